// The Catch2 runner's main(); the tests live in one file per core area.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

// Specification of the journey model (core/include/journeysim/model.hpp): what a
// valid JourneySpec is, the error each invalid one raises, and the small helpers
// (Piecewise, arrivals_at, stationary_from).
#include "helpers.hpp"
#include "journeysim/model.hpp"

#include <catch2/catch.hpp>

#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace journeysim;
using Catch::Contains;
using Catch::Matchers::WithinRel;
using journeysim::testing::mat;
using journeysim::testing::vec;

constexpr double kRel = 1e-12;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

ValueStream stream(const std::string &name, double rate, const Vector &values) {
  ValueStream vs;
  vs.name = name;
  vs.discount_rate = rate;
  vs.stage_values = {{0}, {values}};
  return vs;
}

// "active" -> "churned" with probability 0.25; one stream "revenue" of 10 in active.
Segment churn_segment(const std::string &name, double share) {
  Segment seg;
  seg.name = name;
  seg.share = share;
  seg.transitions = {{0}, {mat({{0.75, 0.25}, {0.0, 1.0}})}};
  seg.start = vec({1.0, 0.0});
  seg.streams = {stream("revenue", 0.01, vec({10.0, 0.0}))};
  return seg;
}

JourneySpec churn_spec() {
  JourneySpec s;
  s.stages = {"active", "churned"};
  s.segments = {churn_segment("all", 1.0)};
  return s;
}

Matrix &P0(JourneySpec &s) { return s.segments[0].transitions.pieces[0]; }

} // namespace

TEST_CASE("Piecewise::index_at picks the last piece whose start is <= tenure",
          "[model]") {
  Piecewise<int> pw{{0, 3, 7}, {10, 20, 30}};
  CHECK(pw.index_at(0) == 0); // [0, 3) -> piece 0
  CHECK(pw.index_at(2) == 0);
  CHECK(pw.index_at(3) == 1); // a piece applies from its own start on
  CHECK(pw.index_at(6) == 1);
  CHECK(pw.index_at(7) == 2); // the last piece applies for ever after
  CHECK(pw.index_at(1000) == 2);
  CHECK(pw.at(5) == 20); // tenure 5 is in [3, 7)
  CHECK(pw.last_start() == 7);

  Piecewise<int> single{{0}, {1}};
  CHECK(single.index_at(0) == 0);
  CHECK(single.index_at(99) == 0);
  CHECK(single.last_start() == 0);
  CHECK(Piecewise<int>{}.last_start() == 0); // no pieces: stationary from 0
}

TEST_CASE("a valid journey is accepted and exposes its parts", "[model]") {
  const Journey j(churn_spec());
  CHECK(j.n_stages() == 2);
  CHECK(j.n_streams() == 1);
  CHECK(j.stream_names() == std::vector<std::string>{"revenue"});
  CHECK(j.absorbing() == std::vector<bool>{false, true}); // churned stays put
  CHECK(j.net_weights() == std::vector<double>{1.0});     // default: weight 1 each
  CHECK(j.cohort_size() == 1.0);
  CHECK_FALSE(j.has_arrivals());
  CHECK(j.stationary_from() == 0);
}

TEST_CASE("Journey rejects an empty journey and bad stage names",
          "[model][validation]") {
  JourneySpec s = churn_spec();
  SECTION("no stages") {
    s.stages.clear();
    REQUIRE_THROWS_AS(Journey(s), std::invalid_argument);
    REQUIRE_THROWS_WITH(Journey(s), Contains("a journey needs at least one stage"));
  }
  SECTION("no segments") {
    s.segments.clear();
    REQUIRE_THROWS_WITH(Journey(s), Contains("a journey needs at least one segment"));
  }
  SECTION("duplicate stage names") {
    s.stages = {"active", "active"};
    REQUIRE_THROWS_AS(Journey(s), std::invalid_argument);
    REQUIRE_THROWS_WITH(Journey(s), Contains("duplicate stage name 'active'"));
  }
  SECTION("empty stage name") {
    s.stages = {"active", ""};
    REQUIRE_THROWS_WITH(Journey(s), Contains("stage names must not be empty"));
  }
}

TEST_CASE("Journey rejects a transition matrix of the wrong shape",
          "[model][validation]") {
  JourneySpec s = churn_spec();
  SECTION("one piece") {
    P0(s) = mat({{0.75, 0.25, 0.0}, {0.0, 1.0, 0.0}}); // 2 x 3 for 2 stages
    REQUIRE_THROWS_AS(Journey(s), std::invalid_argument);
    REQUIRE_THROWS_WITH(
        Journey(s),
        Contains("transition matrix has shape (2, 3), expected (2, 2) for 2 stages"));
  }
  SECTION("the faulty tenure piece and segment are named") {
    s.segments.push_back(churn_segment("SMB", 0.5));
    s.segments[0].share = 0.5;
    s.segments[1].transitions = {{0, 3},
                                 {mat({{0.75, 0.25}, {0.0, 1.0}}), mat({{1.0}})}};
    REQUIRE_THROWS_WITH(
        Journey(s), Contains("segment 'SMB', transition matrix (tenure piece from 3) "
                             "has shape (1, 1), expected (2, 2)"));
  }
}

TEST_CASE("Journey rejects non-finite, negative and > 1 transition probabilities",
          "[model][validation]") {
  JourneySpec s = churn_spec();
  SECTION("nan") {
    P0(s)(0, 1) = kNaN;
    REQUIRE_THROWS_AS(Journey(s), std::invalid_argument);
    REQUIRE_THROWS_WITH(
        Journey(s), Contains("transition 'active' -> 'churned' is not finite (nan)"));
  }
  SECTION("inf") {
    P0(s)(1, 0) = kInf;
    REQUIRE_THROWS_WITH(
        Journey(s), Contains("transition 'churned' -> 'active' is not finite (inf)"));
  }
  SECTION("negative, even when the row sums to 1") {
    P0(s) = mat({{-0.25, 1.25}, {0.0, 1.0}}); // -0.25 + 1.25 = 1
    REQUIRE_THROWS_AS(Journey(s), std::invalid_argument);
    REQUIRE_THROWS_WITH(
        Journey(s), Contains("transition 'active' -> 'active' is negative (-0.25)"));
  }
  SECTION("negative is rejected with normalize=true too") {
    s.normalize = true;
    P0(s) = mat({{-0.25, 1.25}, {0.0, 1.0}});
    REQUIRE_THROWS_WITH(
        Journey(s), Contains("transition 'active' -> 'active' is negative (-0.25)"));
  }
  SECTION("greater than 1") {
    P0(s) = mat({{1.5, 0.0}, {0.0, 1.0}});
    REQUIRE_THROWS_WITH(
        Journey(s),
        Contains("transition 'active' -> 'active' is greater than 1 (1.5)"));
  }
}

TEST_CASE("Journey rejects rows that do not sum to 1, or rescales them with normalize",
          "[model][validation]") {
  JourneySpec s = churn_spec();
  P0(s) = mat({{0.5, 0.4}, {0.0, 1.0}}); // row 'active' sums to 0.9
  SECTION("rejected") {
    REQUIRE_THROWS_AS(Journey(s), std::invalid_argument);
    REQUIRE_THROWS_WITH(
        Journey(s), Contains("row 'active' sums to 0.9, not 1 (pass normalize=True"));
  }
  SECTION("normalize=true divides the row by its sum") {
    s.normalize = true;
    const Journey j(s);
    const Matrix &P = j.segments()[0].transitions.pieces[0];
    CHECK_THAT(P(0, 0), WithinRel(5.0 / 9.0, kRel)); // 0.5 / 0.9
    CHECK_THAT(P(0, 1), WithinRel(4.0 / 9.0, kRel)); // 0.4 / 0.9
    CHECK(P(1, 1) == 1.0);                           // rows that sum to 1 are untouched
  }
  SECTION("normalize=true also accepts entries above 1 and rescales them") {
    s.normalize = true;
    P0(s) = mat({{1.0, 3.0}, {0.0, 2.0}});
    const Journey j(s);
    const Matrix &P = j.segments()[0].transitions.pieces[0];
    CHECK_THAT(P(0, 0), WithinRel(0.25, kRel)); // 1 / 4
    CHECK_THAT(P(0, 1), WithinRel(0.75, kRel)); // 3 / 4
    CHECK(P(1, 1) == 1.0);                      // 2 / 2
    CHECK(j.absorbing() == std::vector<bool>{false, true});
  }
  SECTION("a zero row cannot be rescaled") {
    s.normalize = true;
    P0(s) = mat({{0.0, 0.0}, {0.0, 1.0}});
    REQUIRE_THROWS_WITH(Journey(s), Contains("row 'active' sums to 0, not 1") &&
                                        !Contains("normalize=True"));
  }
  SECTION("within tolerance is accepted as is") {
    P0(s) = mat({{0.75, 0.25 + 1e-12}, {0.0, 1.0}}); // off by 1e-12 < 1e-9
    CHECK_NOTHROW(Journey(s));
  }
}

TEST_CASE("Journey checks the start distribution", "[model][validation]") {
  JourneySpec s = churn_spec();
  SECTION("not summing to 1") {
    s.segments[0].start = vec({0.5, 0.25});
    REQUIRE_THROWS_AS(Journey(s), std::invalid_argument);
    REQUIRE_THROWS_WITH(Journey(s), Contains("start distribution sums to 0.75, not 1 "
                                             "(pass normalize=True to rescale)"));
  }
  SECTION("normalize=true rescales it") {
    s.segments[0].start = vec({0.5, 0.25});
    s.normalize = true;
    const Journey j(s);
    CHECK_THAT(j.segments()[0].start(0), WithinRel(2.0 / 3.0, kRel)); // 0.5 / 0.75
    CHECK_THAT(j.segments()[0].start(1), WithinRel(1.0 / 3.0, kRel)); // 0.25 / 0.75
  }
  SECTION("negative share of a stage") {
    s.segments[0].start = vec({1.5, -0.5});
    REQUIRE_THROWS_WITH(
        Journey(s),
        Contains("start share of stage 'churned' must be finite and >= 0, got -0.5"));
  }
  SECTION("wrong length") {
    s.segments[0].start = vec({1.0});
    REQUIRE_THROWS_WITH(
        Journey(s),
        Contains("start distribution has 1 entries, expected one per stage (2)"));
  }
}

TEST_CASE("Journey checks arrivals and the cohort size", "[model][validation]") {
  JourneySpec s = churn_spec();
  SECTION("negative arrivals name the period (1-based)") {
    s.arrivals = {1.0, -3.0};
    REQUIRE_THROWS_AS(Journey(s), std::invalid_argument);
    REQUIRE_THROWS_WITH(
        Journey(s), Contains("arrivals at period 2 must be finite and >= 0, got -3"));
  }
  SECTION("constant arrivals need exactly one number") {
    s.arrivals = {1.0, 2.0};
    s.arrivals_constant = true;
    REQUIRE_THROWS_WITH(Journey(s),
                        Contains("constant arrivals need exactly one number"));
  }
  SECTION("negative cohort size") {
    s.cohort_size = -1.0;
    REQUIRE_THROWS_WITH(Journey(s),
                        Contains("cohort size must be finite and >= 0, got -1"));
  }
}

TEST_CASE("Journey checks segment shares", "[model][validation]") {
  JourneySpec s = churn_spec();
  s.segments = {churn_segment("SMB", 0.5), churn_segment("ENT", 0.25)};
  SECTION("negative share names the segment and value") {
    s.segments[0].share = 1.5;
    s.segments[1].share = -0.5;
    REQUIRE_THROWS_AS(Journey(s), std::invalid_argument);
    REQUIRE_THROWS_WITH(
        Journey(s), Contains("segment 'ENT': share must be finite and >= 0, got -0.5"));
  }
  SECTION("shares not summing to 1") {
    REQUIRE_THROWS_WITH(Journey(s), Contains("segment shares sum to 0.75, not 1 "
                                             "(pass normalize=True to rescale)"));
  }
  SECTION("normalize=true rescales them") {
    s.normalize = true;
    const Journey j(s);
    CHECK_THAT(j.segments()[0].share, WithinRel(2.0 / 3.0, kRel)); // 0.5 / 0.75
    CHECK_THAT(j.segments()[1].share, WithinRel(1.0 / 3.0, kRel)); // 0.25 / 0.75
  }
  SECTION("duplicate segment names") {
    s.segments[1].name = "SMB";
    REQUIRE_THROWS_WITH(Journey(s), Contains("duplicate segment name 'SMB'"));
  }
  SECTION("errors inside a segment name it") {
    s.segments[1].share = 0.5;
    s.segments[1].transitions.pieces[0](0, 0) = 0.5; // row 'active' sums to 0.75
    REQUIRE_THROWS_WITH(Journey(s),
                        Contains("segment 'ENT', row 'active' sums to 0.75"));
  }
}

TEST_CASE("Journey checks the order of tenure pieces", "[model][validation]") {
  JourneySpec s = churn_spec();
  const Matrix P = mat({{0.75, 0.25}, {0.0, 1.0}});
  SECTION("transitions out of order") {
    s.segments[0].transitions = {{0, 3, 2}, {P, P, P}};
    REQUIRE_THROWS_AS(Journey(s), std::invalid_argument);
    REQUIRE_THROWS_WITH(
        Journey(s),
        Contains(
            "transitions: tenure pieces must be in increasing order, got 3 then 2"));
  }
  SECTION("repeated start") {
    s.segments[0].transitions = {{0, 2, 2}, {P, P, P}};
    REQUIRE_THROWS_WITH(Journey(s), Contains("in increasing order, got 2 then 2"));
  }
  SECTION("transitions not starting at 0") {
    s.segments[0].transitions = {{1}, {P}};
    REQUIRE_THROWS_WITH(
        Journey(s),
        Contains("transitions: the first tenure piece must start at tenure 0, not 1"));
  }
  SECTION("stage values not starting at 0 name the stream") {
    s.segments[0].streams[0].stage_values = {{2}, {vec({1.0, 0.0})}};
    REQUIRE_THROWS_WITH(Journey(s),
                        Contains("value stream 'revenue': the first tenure piece "
                                 "must start at tenure 0, not 2"));
  }
  SECTION("stage values out of order") {
    s.segments[0].streams[0].stage_values = {
        {0, 5, 4}, {vec({1.0, 0.0}), vec({2.0, 0.0}), vec({3.0, 0.0})}};
    REQUIRE_THROWS_WITH(Journey(s),
                        Contains("value stream 'revenue': tenure pieces must be "
                                 "in increasing order, got 5 then 4"));
  }
  SECTION("one start per piece") {
    s.segments[0].transitions = {{0, 1}, {P}};
    REQUIRE_THROWS_WITH(Journey(s),
                        Contains("transitions: needs one tenure start per piece"));
  }
}

TEST_CASE("Journey checks value streams", "[model][validation]") {
  JourneySpec s = churn_spec();
  ValueStream &vs = s.segments[0].streams[0];
  SECTION("discount rate of exactly -1") {
    vs.discount_rate = -1.0;
    REQUIRE_THROWS_AS(Journey(s), std::invalid_argument);
    REQUIRE_THROWS_WITH(
        Journey(s),
        Contains(
            "value stream 'revenue': discount rate must be finite and > -1, got -1"));
  }
  SECTION("discount rate below -1") {
    vs.discount_rate = -1.5;
    REQUIRE_THROWS_WITH(Journey(s),
                        Contains("discount rate must be finite and > -1, got -1.5"));
  }
  SECTION("a rate just above -1 is allowed") {
    vs.discount_rate = -0.5; // d = 2
    CHECK_NOTHROW(Journey(s));
  }
  SECTION("wrong number of stage values") {
    vs.stage_values.pieces[0] = vec({1.0, 2.0, 3.0});
    REQUIRE_THROWS_WITH(
        Journey(s), Contains("value stream 'revenue' has 3 stage values, expected 2"));
  }
  SECTION("non-finite stage value") {
    vs.stage_values.pieces[0](1) = kNaN;
    REQUIRE_THROWS_WITH(
        Journey(s),
        Contains(
            "value stream 'revenue': value in stage 'churned' is not finite (nan)"));
  }
  SECTION("transition values of the wrong shape") {
    vs.transition_values = Matrix::Zero(2, 1);
    REQUIRE_THROWS_WITH(Journey(s),
                        Contains("value stream 'revenue': transition values have "
                                 "shape (2, 1), expected (2, 2)"));
  }
  SECTION("non-finite transition value") {
    vs.transition_values = Matrix::Zero(2, 2);
    vs.transition_values(0, 1) = kInf;
    REQUIRE_THROWS_WITH(
        Journey(s),
        Contains("value stream 'revenue': value on move 'active' -> 'churned' "
                 "is not finite"));
  }
  SECTION("streams must match across segments") {
    s.segments[0].share = 0.5;
    s.segments.push_back(churn_segment("ENT", 0.5));
    s.segments[1].streams[0].name = "cost";
    REQUIRE_THROWS_WITH(Journey(s), Contains("segment 'ENT', value stream 0 is 'cost', "
                                             "expected 'revenue'"));
  }
  SECTION("a stream has one discount rate across segments") {
    s.segments[0].share = 0.5;
    s.segments.push_back(churn_segment("ENT", 0.5));
    s.segments[1].streams[0].discount_rate = 0.02;
    REQUIRE_THROWS_WITH(Journey(s),
                        Contains("segment 'ENT', value stream 'revenue': discount "
                                 "rate 0.02 differs from the first segment's"));
  }
}

TEST_CASE("Journey checks declared absorbing stages", "[model][validation]") {
  JourneySpec s = churn_spec();
  SECTION("an absorbing stage with an exit") {
    P0(s) = mat({{0.75, 0.25}, {0.5, 0.5}});
    s.absorbing = {1};
    REQUIRE_THROWS_AS(Journey(s), std::invalid_argument);
    REQUIRE_THROWS_WITH(Journey(s),
                        Contains("absorbing stage 'churned' has an exit to "
                                 "'active' (0.5); absorbing stages stay put"));
  }
  SECTION("index out of range") {
    s.absorbing = {2};
    REQUIRE_THROWS_WITH(Journey(s),
                        Contains("absorbing stage index 2 is out of range"));
  }
  SECTION("listed twice") {
    s.absorbing = {1, 1};
    REQUIRE_THROWS_WITH(Journey(s),
                        Contains("absorbing stage 'churned' is listed twice"));
  }
  SECTION("declared stages replace detection") {
    // 'paused' stays put but is not declared: it is then a transient stage.
    s.stages = {"active", "paused", "churned"};
    P0(s) = mat({{0.5, 0.25, 0.25}, {0.0, 1.0, 0.0}, {0.0, 0.0, 1.0}});
    s.segments[0].start = vec({1.0, 0.0, 0.0});
    s.segments[0].streams[0].stage_values.pieces[0] = vec({1.0, 0.0, 0.0});
    s.absorbing = {2};
    CHECK(Journey(s).absorbing() == std::vector<bool>{false, false, true});
  }
}

TEST_CASE("absorbing stages are detected as those that stay put in every piece",
          "[model]") {
  JourneySpec s = churn_spec();
  s.stages = {"active", "paused", "churned"};
  const Matrix stays = mat({{0.5, 0.25, 0.25}, {0.0, 1.0, 0.0}, {0.0, 0.0, 1.0}});
  const Matrix leaves = mat({{0.5, 0.25, 0.25}, {0.5, 0.5, 0.0}, {0.0, 0.0, 1.0}});
  s.segments[0].start = vec({1.0, 0.0, 0.0});
  s.segments[0].streams[0].stage_values.pieces[0] = vec({1.0, 0.0, 0.0});
  SECTION("one piece: 'paused' and 'churned' stay put") {
    s.segments[0].transitions = {{0}, {stays}};
    CHECK(Journey(s).absorbing() == std::vector<bool>{false, true, true});
  }
  SECTION("'paused' stays put at tenure 0 but leaves from tenure 4: not absorbing") {
    s.segments[0].transitions = {{0, 4}, {stays, leaves}};
    CHECK(Journey(s).absorbing() == std::vector<bool>{false, false, true});
  }
  SECTION("'paused' stays put in one segment but not in the other: not absorbing") {
    s.segments[0].share = 0.5;
    s.segments[0].transitions = {{0}, {stays}};
    s.segments.push_back(s.segments[0]);
    s.segments[1].name = "other";
    s.segments[1].transitions = {{0}, {leaves}};
    CHECK(Journey(s).absorbing() == std::vector<bool>{false, false, true});
  }
}

TEST_CASE("Journey checks value stages, net weights and the tolerance",
          "[model][validation]") {
  JourneySpec s = churn_spec();
  SECTION("value stage index out of range") {
    s.value_stages = {2};
    REQUIRE_THROWS_AS(Journey(s), std::invalid_argument);
    REQUIRE_THROWS_WITH(Journey(s), Contains("value stage index 2 is out of range"));
  }
  SECTION("negative value stage index") {
    s.value_stages = {-1};
    REQUIRE_THROWS_WITH(Journey(s), Contains("value stage index -1 is out of range"));
  }
  SECTION("net weights of the wrong length") {
    s.net_weights = {1.0, -1.0}; // two weights, one stream
    REQUIRE_THROWS_AS(Journey(s), std::invalid_argument);
    REQUIRE_THROWS_WITH(
        Journey(s),
        Contains("net value needs one weight per value stream: got 2 for 1"));
  }
  SECTION("non-finite net weight") {
    s.net_weights = {kNaN};
    REQUIRE_THROWS_WITH(Journey(s),
                        Contains("net weight of stream 'revenue' is not finite"));
  }
  SECTION("negative tolerance") {
    s.tolerance = -1.0;
    REQUIRE_THROWS_WITH(Journey(s),
                        Contains("tolerance must be a finite number >= 0, got -1"));
  }
}

TEST_CASE("arrivals_at: constant, by period, and zero outside", "[model]") {
  JourneySpec s = churn_spec();
  SECTION("constant") {
    s.arrivals = {3.0};
    s.arrivals_constant = true;
    const Journey j(s);
    CHECK(j.has_arrivals());
    CHECK(j.arrivals_at(0) == 0.0); // nobody joins at t = 0: that is the cohort
    CHECK(j.arrivals_at(-1) == 0.0);
    CHECK(j.arrivals_at(1) == 3.0); // every period t >= 1
    CHECK(j.arrivals_at(1000) == 3.0);
  }
  SECTION("a vector: entry t - 1 joins at t, nothing beyond it") {
    s.arrivals = {1.0, 2.0};
    const Journey j(s);
    CHECK(j.has_arrivals());
    CHECK(j.arrivals_at(0) == 0.0);
    CHECK(j.arrivals_at(1) == 1.0);
    CHECK(j.arrivals_at(2) == 2.0);
    CHECK(j.arrivals_at(3) == 0.0);
  }
  SECTION("all zero means no arrivals") {
    s.arrivals = {0.0, 0.0};
    CHECK_FALSE(Journey(s).has_arrivals());
  }
  SECTION("a single non-constant entry is one batch at t = 1") {
    s.arrivals = {5.0};
    const Journey j(s);
    CHECK(j.arrivals_at(1) == 5.0);
    CHECK(j.arrivals_at(2) == 0.0);
  }
}

TEST_CASE("stationary_from is the last tenure start of any matrix or value",
          "[model]") {
  JourneySpec s = churn_spec();
  const Matrix P = mat({{0.75, 0.25}, {0.0, 1.0}});
  s.segments[0].transitions = {{0, 2}, {P, P}};
  CHECK(Journey(s).stationary_from() == 2); // transitions change at 2
  s.segments[0].streams[0].stage_values = {{0, 5}, {vec({1.0, 0.0}), vec({2.0, 0.0})}};
  CHECK(Journey(s).stationary_from() == 5); // values change at 5 > 2
  s.segments[0].share = 0.5;
  s.segments.push_back(s.segments[0]);
  s.segments[1].name = "late";
  s.segments[1].transitions = {{0, 9}, {P, P}};
  CHECK(Journey(s).stationary_from() == 9); // the latest over all segments
}

namespace {
// The JourneyError that building `s` throws (the test fails if none is thrown).
JourneyError error_of(const JourneySpec &s) {
  try {
    Journey j(s);
  } catch (const JourneyError &e) {
    return e;
  }
  FAIL("no JourneyError");
  return JourneyError("", "", "", "");
}
} // namespace

TEST_CASE("a JourneyError names the part of the spec, the segment and the stream",
          "[model][validation]") {
  JourneySpec s = churn_spec();
  SECTION("a row of one segment's transitions, among several") {
    s.segments.push_back(churn_segment("SMB", 0.5));
    s.segments[0].share = 0.5;
    s.segments[1].transitions.pieces[0](0, 0) = 0.5; // the row sums to 0.75
    const JourneyError e = error_of(s);
    CHECK(e.part == "transitions");
    CHECK(e.segment == "SMB");
    CHECK(e.stream.empty());
    CHECK_THAT(e.what(), Contains("segment 'SMB', row 'active' sums to 0.75"));
  }
  SECTION("the only segment is not named") {
    P0(s)(0, 0) = 0.5;
    const JourneyError e = error_of(s);
    CHECK(e.part == "transitions");
    CHECK(e.segment.empty());
  }
  SECTION("a value stream's values and its discount rate") {
    s.segments[0].streams[0].stage_values.pieces[0](0) = kNaN;
    JourneyError e = error_of(s);
    CHECK(e.part == "values");
    CHECK(e.stream == "revenue");
    s = churn_spec();
    s.segments[0].streams[0].discount_rate = -1.0;
    e = error_of(s);
    CHECK(e.part == "discount_rate");
    CHECK(e.stream == "revenue");
  }
  SECTION("the start, the stages, absorbing stages, cohort and arrivals") {
    s.segments[0].start = vec({0.5, 0.0});
    CHECK(error_of(s).part == "start");
    s = churn_spec();
    s.stages = {"active", "active"};
    CHECK(error_of(s).part == "stages");
    s = churn_spec();
    s.absorbing = {0}; // "active" has an exit
    CHECK(error_of(s).part == "absorbing");
    s = churn_spec();
    s.cohort_size = -1.0;
    CHECK(error_of(s).part == "cohort_size");
    s = churn_spec();
    s.arrivals = {kInf};
    CHECK(error_of(s).part == "arrivals");
  }
  SECTION("it is a std::invalid_argument") {
    P0(s)(0, 0) = 0.5;
    REQUIRE_THROWS_AS(Journey(s), std::invalid_argument);
  }
}

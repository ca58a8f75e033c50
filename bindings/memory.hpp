// Memory checks before work whose size the caller controls (periods, customers):
// a request that cannot fit fails up front with a MemoryError stating the need,
// instead of being killed by the operating system half-way. Needs the GIL.
#pragma once

#include "pybind11.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

// Bytes the system can still give without swapping: MemAvailable of
// /proc/meminfo (Linux), or the free physical pages.
inline double available_memory() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kb = 0.0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024.0;
  const long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? static_cast<double>(pages) * static_cast<double>(size)
                               : 1e300;
}

inline std::string gib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / 1073741824.0);
  return buf;
}

// Raises MemoryError (a Python exception, with its message) when `need` bytes
// exceed 80% of what is available.
inline void require_memory(double need, const std::string &what,
                           const std::string &advice) {
  if (need < 268435456.0) return; // 256 MiB: not worth reading /proc/meminfo
  const double avail = available_memory();
  if (need <= 0.8 * avail) return;
  const std::string msg = what + " would need about " + gib(need) + ", more than the " +
                          gib(avail) + " of memory available: " + advice;
  PyErr_SetString(PyExc_MemoryError, msg.c_str());
  throw py::error_already_set();
}

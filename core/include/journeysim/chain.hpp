// The journey as a Markov chain: communicating classes and their periods,
// stationary distributions, first passage (hitting probabilities and times),
// expected visits (the fundamental matrix) and first returns. The analytics
// that Markov-chain libraries (PyDTMC, R markovchain) offer, computed with the
// same subtraction-free eliminations as the exact analysis.
//
// Tenure. Hitting probabilities and expected visits are for a customer at
// tenure 0 and step through the tenure pieces; classes, stationary
// distributions and returns describe the long run, the matrix in force from
// the last tenure break on (the "stationary tail").
#pragma once

#include "journeysim/model.hpp"

#include <string>
#include <vector>

namespace journeysim {

// A communicating class: stages that can each reach the others. Closed (no
// way out) classes are the recurrent ones of a finite chain; the others are
// transient in the Markov sense. The period is the gcd of the lengths of the
// cycles through the class (1: aperiodic; 0 for a transient stage on no cycle).
struct StageClass {
  std::vector<int> stages;
  bool recurrent = false;
  int period = 1;
};

// The classes of the long-run matrix of a segment, recurrent ones first, each
// ordered by its smallest stage index.
std::vector<StageClass> communicating_classes(const Journey &journey,
                                              std::size_t segment);

// One stationary distribution per recurrent class (rows, in the order of
// communicating_classes' recurrent classes; columns: stages), by the
// Grassmann-Taksar-Heyman elimination: no subtraction, so every entry keeps
// full relative precision however small. Every stationary distribution of the
// chain is a mixture of these rows.
Matrix stationary_distributions(const Journey &journey, std::size_t segment);

// Reaching `target` before `avoid`, from each stage at tenure 0: probability,
// its complement (computed on its own, so a certain event has exactly 0 here,
// not a rounding residue of 1 - probability), and the expected periods until
// the first visit for those who get there (nan where the probability is 0).
// A stage in the target has probability 1 and time 0; one in `avoid` (and not
// in the target) probability 0.
struct FirstPassage {
  Vector probability;
  Vector missed;
  Vector mean_time;
  double condition = 1.0; // of the worst fundamental matrix solved
  std::string warning;    // set when that condition number is above kIllConditioned
};
FirstPassage first_passage(const Journey &journey, std::size_t segment,
                           const std::vector<bool> &target,
                           const std::vector<bool> &avoid);

// Expected periods spent in each non-absorbing stage (columns) by a customer in
// each stage (rows) at tenure 0, counting the current period: the fundamental
// matrix N = (I - Q)^-1 of an absorbing chain, stepped through the tenure
// pieces. Infinite where a customer can enter a recurrent class that is not
// absorbing; 0 where a stage cannot be reached. S x S, absorbing columns 0.
Matrix expected_visits(const Journey &journey, std::size_t segment);

// Returning to a stage in the long run: for each stage, the probability of
// ever coming back after leaving (or staying), its complement, and the mean
// periods until the first return for those who return (nan when they never
// do). For a recurrent stage the probability is 1 and the mean is
// 1 / stationary probability (Kac).
struct FirstReturn {
  Vector probability;
  Vector missed;
  Vector mean_time;
};
FirstReturn first_returns(const Journey &journey, std::size_t segment);

} // namespace journeysim

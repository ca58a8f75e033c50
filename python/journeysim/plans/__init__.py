"""Plans compared: exact and Monte Carlo evaluation, compare, best plan within
a budget, sweeps over grids and posterior draws."""

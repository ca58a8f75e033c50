"""The model: Journey, Intervention, Plan, what a plan does to a journey,
running simulations, and reading and writing journey specs."""

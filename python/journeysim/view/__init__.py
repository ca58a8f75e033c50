"""Views: numbers formatted for people, HTML tables for notebooks, plots and
the Sankey drawing. Knows nothing of journeys' internals."""

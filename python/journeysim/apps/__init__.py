"""Applications for people: the command line, the HTML report, the notebook
what-if widget and the demo."""

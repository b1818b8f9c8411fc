"""The causes a failed member is given (diagnosis.py decides, in this order of precedence).
Kept free of torch so the sweep summary and --help can name them without loading it."""

CAUSES = ("diverged", "linear", "dead", "saturated units", "saturated output", "plateau", "still learning",
          "local minimum", "other")

"""What every layer needs: errors, atomic writes, where configs live, size bounds, the hand-weights
file format.
"""

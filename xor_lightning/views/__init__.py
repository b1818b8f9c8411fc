"""What people read: text tables, figures, TensorBoard pictures, the run report, the sweep summary,
progress.
"""

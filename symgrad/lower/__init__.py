"""Index expression -> typed array IR -> NumPy code and its LaTeX matrix view.

``assembly.lower_expression`` turns a collapsed index expression into array
nodes (``nodes``) that know their shapes, through ``lowering`` (one term) and
``placement`` (one tensor entry); ``numpy_printer`` and ``latex_printer``
print the same nodes, one method per node type, so the derivation document
shows what the generated code computes. ``elementwise_code`` prints the
scalar body of an elementwise node as Python.
"""

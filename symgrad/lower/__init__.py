"""Index expression -> typed array IR -> NumPy code and its LaTeX matrix view.

``assembly.lower_expression`` turns a collapsed index expression into array
nodes (``nodes``) that know their shapes, through ``lowering`` (one term) and
``placement`` (one tensor entry); ``statements`` holds the statement level (a
function body is a list of them), ``passes`` rewrites NumPy's statements;
``numpy_printer`` and ``latex_printer`` print the same nodes, one method per
node (and statement) type, so the derivation document shows what the
generated code computes. ``elementwise_code`` prints the
scalar body of an elementwise node as Python.
"""

"""The custom JMESPath functions a spec's expressions call, by family, and their registry.

Modules: ``args`` (argument specs, ``FunctionError``), ``data`` (value helpers, ``find_by``
indexes), the families ``text``, ``convert`` and ``collections``, and ``registry``
(``CustomFunctions``, the names the schema allows). Imports nothing above itself: functions a
spec declares are made by ``spec.spec_functions``.
"""

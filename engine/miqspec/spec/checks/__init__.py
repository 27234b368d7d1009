"""Semantic checks of a loaded spec (on top of the cerberus schema), one module per section.

Offers: ``check_document``. Takes a ``LoadedDocument`` and the inventory ``Catalogue``; gives
every ``Finding``, sorted by position. Raises nothing; no I/O.

Inside, dependencies run one way: ``sections`` (the order of the sections) imports the
section modules (``functions``, ``form``, ``auth``, ``calls``, ``mappings``), which get the
narrow collaborators they use from the modules below them: ``findings`` (the sink),
``names`` (what the form and login steps declare) and ``texts`` (the expression and template
checks); ``calls`` also uses ``auth``'s checks of a call's own auth and of service names.
"""

from .sections import check_document

__all__ = ["check_document"]

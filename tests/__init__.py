"""difflab's test suite, one package (``tests.<area>.test_*``); shared helpers are in :mod:`tests.helpers`."""

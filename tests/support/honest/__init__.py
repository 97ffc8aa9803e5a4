"""The honest corpus (``corpus``) and what runs it: plain pytest on the host (``plain``),
the real sandbox (``sandboxed``) and the table by feature class (``report``). Its tests are
in tests/honest (tests/honest/README.md)."""

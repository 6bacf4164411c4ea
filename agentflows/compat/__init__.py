"""Every use of a library's internals or of its error wording, one module per library.

Nothing else in the project imports a private module (`prefect._...`, `pydantic_ai._...`) or matches a
library's message text. Each helper here names the upstream behaviour it relies on, and
`tests/compat/` has a contract test per helper that fails loudly when an upgrade changes it: the fix
then goes here, once, instead of into five files.
"""

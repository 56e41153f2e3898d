"""The errors emdkg raises on purpose.

Every error a user can cause is an :class:`EmdkgError`: the command line prints its message as
one line (``emdkg: error: <message>``) and exits with its ``exit_code``; anything else that
escapes is a bug and is reported as an internal error.

>>> raise UnknownTermError("disease", "myelom", ["multiple myeloma", "myeloid sarcoma"])
Traceback (most recent call last):
...
emdkg.errors.UnknownTermError: unknown disease 'myelom': did you mean 'multiple myeloma', 'myeloid sarcoma'?
"""

from __future__ import annotations

import os
from collections.abc import Sequence

__all__ = [
    "EmdkgError",
    "InputError",
    "UnknownTermError",
    "QueryError",
    "RemoteError",
    "one_line",
]


def one_line(text: str) -> str:
    """Collapse ``text`` to a single printable line.

    Parser messages can carry newlines and raw control characters (a NUL byte from a binary
    file); the one-line error contract of the command line must hold for them too.

    >>> one_line("bad syntax\\n  at ^ in:\\x00")
    'bad syntax at ^ in:\\\\x00'
    """
    flat = " ".join(text.split())
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in flat)


class EmdkgError(Exception):
    """Base class of every error a user can cause; ``exit_code`` is what the CLI exits with.

    >>> e = EmdkgError("no such\\nthing")
    >>> e.message, e.exit_code
    ('no such thing', 2)
    """

    exit_code: int = 2
    #: What the user can do about it; the command line prints it after the message
    #: (``emdkg: error: <message>; <hint>``). Not part of ``str(error)``.
    hint: str | None = None

    def __init__(self, message: str, *, exit_code: int | None = None, hint: str | None = None) -> None:
        self.message = one_line(message)
        if exit_code is not None:
            self.exit_code = exit_code
        if hint is not None:
            self.hint = one_line(hint)
        super().__init__(self.message)

    @property
    def full_message(self) -> str:
        """The message and, when there is one, the hint: the line the command line prints.

        >>> EmdkgError("x.ttl: empty file", hint="add the RDF content").full_message
        'x.ttl: empty file; add the RDF content'
        """
        return f"{self.message}; {self.hint}" if self.hint else self.message


class InputError(EmdkgError):
    """A file or value we were given cannot be read or parsed.

    The message names the file, line and column when they are known, compiler style, so
    editors can jump to it.

    >>> str(InputError("unexpected end of file", path="kb/x.ttl", line=3, column=7))
    'kb/x.ttl:3:7: unexpected end of file'
    >>> str(InputError("empty file", path="kb/x.ttl"))
    'kb/x.ttl: empty file'
    >>> str(InputError("unexpected end of file", line=3))
    'line 3: unexpected end of file'
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | os.PathLike[str] | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.reason = one_line(reason)
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.column = column
        super().__init__(f"{self._where()}{self.reason}", hint=hint)

    def _where(self) -> str:
        if self.path is not None:
            parts = [self.path]
            if self.line is not None:
                parts.append(str(self.line))
                if self.column is not None:
                    parts.append(str(self.column))
            return ":".join(parts) + ": "
        if self.line is None:
            return ""
        if self.column is None:
            return f"line {self.line}: "
        return f"line {self.line}, column {self.column}: "

    def with_path(self, path: str | os.PathLike[str], *, hint: str | None = None) -> InputError:
        """The same error, now naming ``path`` (used when a parser did not know the file)."""
        return InputError(self.reason, path=path, line=self.line, column=self.column, hint=hint or self.hint)


class UnknownTermError(EmdkgError):
    """A name that matches no term; ``suggestions`` are the closest labels, best first.

    >>> str(UnknownTermError("site", "brian"))
    "unknown site 'brian'"
    """

    def __init__(self, kind: str, name: str, suggestions: Sequence[str] = ()) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = list(suggestions)
        message = f"unknown {kind} {name!r}"
        if self.suggestions:
            message += ": did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        super().__init__(message)


class QueryError(EmdkgError):
    """A query is malformed, or cannot be run with the bindings given."""


class RemoteError(EmdkgError):
    """A remote store or service failed or answered something we cannot use."""

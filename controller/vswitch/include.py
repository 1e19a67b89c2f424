"""FAUCET's ``include`` and ``include-optional``: a policy file and the files it
includes, read as one document whose every piece is still reported at its own file,
line and column.

    files = PolicyFiles(expect)
    files.read_root(text, 'faucet.yaml', max_bytes)   # and, from it, its includes
    files.data        # the merged document ('include' keys taken out)
    files.issue(('vlans', 'office'), 'what is wrong')  # reported in the file defining it
    files.paths       # every file read or looked for: what the reload watch watches

As in FAUCET, an included path is relative to the directory of the file that includes
it; an included file is read before the files it includes in turn; a file included
twice (a loop, or by two files) is an error naming the including file and line, and so
is a required file that cannot be read (an optional one is skipped, and still watched).
Unlike FAUCET, which lets a later file silently replace an entry of the same name, a
VLAN, ACL or switch defined in two files is an error naming both places.
"""

import os
from collections.abc import Iterator
from typing import Any

from controller.config.errors import ConfigError, ConfigIssue
from controller.config.schema import describe
from controller.config.watch import FileWatch
from controller.config.yaml_source import Path, YamlSource, read_bounded

INCLUDES = (('include', True), ('include-optional', False))  # (key, required)


class _ByPath:
    """A view of one per-file mapping (``keys`` or ``plain``) of the file that holds
    each path."""

    def __init__(self, files: 'PolicyFiles', attribute: str) -> None:
        self.files, self.attribute = files, attribute

    def __getitem__(self, path: Path) -> Any:
        return getattr(self.files.source_of(path), self.attribute)[path]

    def get(self, path: Path, default: Any = None) -> Any:
        return getattr(self.files.source_of(path), self.attribute).get(path, default)


class PolicyFiles:
    """A policy file and its includes, merged; quacks like one YamlSource for the
    schema check and the builder."""

    def __init__(self, expect: str) -> None:
        self.expect = expect
        self.data: dict[str, Any] = {}
        self.sources: list[YamlSource] = []
        self.paths: list[str] = []  # every file read or looked for, in reading order
        self._owner: dict[Path, YamlSource] = {}  # (section, name) or (key,) -> its file
        self._included_by: dict[str, str] = {}  # real path -> 'file:line' that included it
        self.keys = _ByPath(self, 'keys')
        self.plain = _ByPath(self, 'plain')

    # --- reading --------------------------------------------------------------------

    def read_root(self, text: str | bytes, filename: str, max_bytes: int) -> bool:
        """Read the policy ``text`` of ``filename`` and every file it includes; False if
        the root file gives no document to check."""
        root = YamlSource(filename, self.expect)
        self.sources.append(root)
        self.paths.append(filename)
        self._included_by[os.path.realpath(filename)] = ''
        if not root.read(text):
            return False
        if not isinstance(root.data, dict):
            self.data = root.data  # the schema says what is wrong with it
            return True
        self._merge(root, (filename,), max_bytes)
        return True

    def _merge(self, source: YamlSource, chain: tuple[str, ...], max_bytes: int) -> None:
        """Take the sections of ``source`` (whose data is a mapping) into the document,
        then read the files it includes."""
        for key, value in source.data.items():
            if key in dict(INCLUDES):
                continue
            if not isinstance(value, dict) or key not in self.data:
                if key in self.data:
                    self._twice(source, (key,), at_key=True)
                    continue
                self.data[key] = dict(value) if isinstance(value, dict) else value
                self._owner[(key,)] = source
                if isinstance(value, dict):
                    for name in value:
                        self._owner[(key, name)] = source
                continue
            if not isinstance(self.data[key], dict):
                self._twice(source, (key,), at_key=True)
                continue
            for name, entry in value.items():
                if name in self.data[key]:
                    self._twice(source, (key, name), at_key=True)
                    continue
                self.data[key][name] = entry
                self._owner[(key, name)] = source
        for key, required in INCLUDES:
            if key in source.data:
                self._includes(source, key, required, chain, max_bytes)

    def _twice(self, source: YamlSource, path: Path, at_key: bool) -> None:
        first = self.source_of(path)
        source.issue(
            path,
            '%s is already defined in %s:%s; FAUCET would silently keep only the last one'
            % ('.'.join(path), first.filename, first.line_of(path)),
            at_key=at_key,
        )

    def _includes(
        self, source: YamlSource, key: str, required: bool, chain: tuple[str, ...], max_bytes: int
    ) -> None:
        names = source.data[key]
        if not isinstance(names, list):
            source.issue((key,), 'expected a list of file names; got %s' % describe(names))
            return
        for index, name in enumerate(names):
            where = (key, index)
            if not isinstance(name, str) or not name:
                source.issue(where, 'expected a file name')
                continue
            path = os.path.join(os.path.dirname(source.filename), name)
            real = os.path.realpath(path)
            if real in self._included_by:
                loop = [os.path.realpath(f) for f in chain]
                if real in loop:
                    names_in_loop = chain[loop.index(real) :] + (path,)
                    message = 'include loop: %s' % ' includes '.join(names_in_loop)
                else:
                    message = '%s is already included (by %s)' % (path, self._included_by[real])
                source.issue(where, message)
                continue
            self._included_by[real] = '%s:%s' % (source.filename, source.line_of(where))
            self.paths.append(path)
            try:
                text = read_bounded(path, max_bytes)
            except ConfigError as error:
                if required:
                    reason = error.errors[0].message
                    source.issue(where, 'the included file %s: %s' % (path, reason))
                continue  # include-optional: skipped, as in FAUCET
            included = YamlSource(path, self.expect)
            self.sources.append(included)
            if not included.read(text):
                continue
            if not isinstance(included.data, dict):
                included.issue((), 'expected %s; got %s' % (self.expect, describe(included.data)))
                continue
            self._merge(included, chain + (path,), max_bytes)

    # --- one document ---------------------------------------------------------------

    def source_of(self, path: Path) -> YamlSource:
        """The file that holds ``path``: the one defining its entry (or section), else
        the root file."""
        for length in (2, 1):
            owner = self._owner.get(tuple(path[:length]))
            if owner is not None and len(path) >= length:
                return owner
        return self.sources[0]

    def issue(self, path: Path, message: str, at_key: bool = False, mark: Any = None) -> None:
        self.source_of(path).issue(path, message, at_key=at_key, mark=mark)

    def has_issue_at(self, path: Path) -> bool:
        return self.source_of(path).has_issue_at(path)

    def line_of(self, path: Path) -> int | None:
        return self.source_of(path).line_of(path)

    def all_issues(self) -> Iterator[ConfigIssue]:
        for source in self.sources:
            yield from source.issues.values()

    def release(self) -> None:
        for source in self.sources:
            source.release()
        self.data = {}


class FilesWatch:
    """Whether any of a policy's files (``Policy.files``: the file, its includes, and
    the optional ones not there yet) changed since last looked at."""

    def __init__(self, paths: tuple[str, ...]) -> None:
        self._watches = {path: FileWatch(path) for path in paths}

    def changed(self) -> bool:
        return any([watch.changed() for watch in self._watches.values()])  # look at all

    def follow(self, paths: tuple[str, ...]) -> None:
        """Watch ``paths`` from now on (those of the policy just loaded), keeping what
        was seen of the files watched already."""
        self._watches = {path: self._watches.get(path) or FileWatch(path) for path in paths}

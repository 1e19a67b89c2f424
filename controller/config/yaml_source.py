"""YAML read into plain data with the line and column of every key and value, so that
a problem found anywhere later (by the schema, by a check across the file) is reported
where it is written. Reading guards against hostile input: alias expansion ("billion
laughs"), alias and merge loops, nesting too deep for the parser, unsupported tags, and
a key written twice (YAML would silently keep the last one).

    source = YamlSource('policy.yaml', "a mapping with 'dps', 'vlans' and 'acls'")
    if source.read(text):
        ...source.data..., source.issue(('dps', 's1'), 'what is wrong')

:func:`load_checked` is the whole of a loader's front: read, check against a schema,
build, and raise every problem at once. :func:`read_bounded` is how a loader reads its
file: a regular file only (a FIFO would block, a device such as /dev/zero never ends)
and at most ``max_bytes`` (checked before reading and while reading, for a file that
grows).

Composing is done by libyaml where PyYAML has it (several times faster than the pure
Python reader, for the same nodes), with the Python composer on top so that nesting
stays bounded by Python's recursion limit; a file libyaml refuses is read again by the
pure Python reader, whose messages are the ones reported.
"""

import os
import stat
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from controller.config.errors import ConfigError, ConfigIssue

Path = tuple[Any, ...]  # mapping keys (str) and list indexes (int)
SchemaIssues = Iterable[tuple[Path, str, bool]]  # (path, message, at_key)
T = TypeVar('T')

_MERGE_TAG = 'tag:yaml.org,2002:merge'
_COLLECTION_TAGS = ('tag:yaml.org,2002:seq', 'tag:yaml.org,2002:map')
# Aliases can make a small file expand enormously ("billion laughs"); a real
# configuration has far fewer nodes than this.
MAX_NODES = 1000000
# A configuration file larger than this is refused unless the app allows more: a real
# policy is kilobytes, and a 4 MB one already takes seconds to check.
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
_READ_CHUNK = 1024 * 1024

_FILE_KINDS = (
    (stat.S_ISDIR, 'a directory'),
    (stat.S_ISFIFO, 'a FIFO (named pipe)'),
    (stat.S_ISCHR, 'a character device'),
    (stat.S_ISBLK, 'a block device'),
    (stat.S_ISSOCK, 'a socket'),
)


class _TooLarge(Exception):
    pass


# libyaml's scanner and parser (C) under PyYAML's composer (Python), if PyYAML has it: the
# nodes of yaml.SafeLoader, faster, and nesting bounded by the recursion limit (libyaml's
# own composer recurses in C, where deep nesting overflows the stack).
# The composer tells events apart by their classes: libyaml's must be yaml.events' (a
# process that imported PyYAML's Python modules twice holds two sets of them).
_LibyamlLoader: Any = None
if yaml.__with_libyaml__ and getattr(yaml._yaml, 'ScalarEvent', None) is yaml.ScalarEvent:
    from yaml._yaml import CParser

    class _ComposedOverLibyaml(Composer, SafeConstructor, Resolver, CParser):
        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            Composer.__init__(self)

    _LibyamlLoader = _ComposedOverLibyaml


def load_file(path: str, load_text: Callable[..., T], max_bytes: int = DEFAULT_MAX_BYTES) -> T:
    """``load_text(contents, filename=path)`` of the file at ``path``, read with
    :func:`read_bounded`; a ConfigError naming the file if it cannot be read."""
    return load_text(read_bounded(path, max_bytes), filename=str(path))


def read_bounded(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The contents of the regular file at ``path`` (symbolic links followed), at most
    ``max_bytes`` of them. ConfigError naming the file if it cannot be read, is not a
    regular file (what it is instead, and where a link points), is larger than
    ``max_bytes`` or grows past it while being read."""
    name = str(path)
    try:
        info = os.stat(path)
        _check_regular(name, path, info)
        _check_size(name, info.st_size, max_bytes)
        # O_NONBLOCK: should the path have become a FIFO since the stat, opening it does
        # not wait for a writer; the fstat below then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
        with os.fdopen(fd, 'rb', buffering=0) as f:
            _check_regular(name, path, os.fstat(fd))
            data = bytearray()
            while len(data) <= max_bytes:
                chunk = f.read(min(_READ_CHUNK, max_bytes + 1 - len(data)))
                if not chunk:
                    break
                data += chunk
    except OSError as error:
        raise _file_error(name, error.strerror or str(error)) from None
    if len(data) > max_bytes:
        raise _file_error(
            name,
            'it grew past the limit of %d bytes while it was read '
            '(a file that reports no size, like those of /proc, counts as '
            'growing)' % max_bytes,
        )
    return bytes(data)


def _check_regular(name, path, info):
    if stat.S_ISREG(info.st_mode):
        return
    kind = next(
        (what for test, what in _FILE_KINDS if test(info.st_mode)),
        'a file of an unknown kind (mode 0o%o)' % info.st_mode,
    )
    target = os.path.realpath(path)
    via = ' (a symbolic link to %s)' % target if os.path.islink(path) else ''
    raise _file_error(name, 'it is %s%s, not a regular file' % (kind, via))


def _check_size(name, size, max_bytes):
    if size > max_bytes:
        raise _file_error(name, 'it is %d bytes, over the limit of %d bytes' % (size, max_bytes))


def _file_error(name, why):
    return ConfigError([ConfigIssue(name, None, None, '', 'cannot read the file: ' + why)])


def load_checked(
    text: str | bytes,
    filename: str,
    expect: str,
    schema_issues: Callable[[Any], SchemaIssues],
    build: Callable[['YamlSource'], T | None],
) -> T:
    """What ``build(source)`` makes of the YAML ``text`` once ``schema_issues(data)``
    has been reported; ConfigError with every problem found by any of the three.
    ``expect`` says what the document should be (for the message about an empty one)."""
    source = YamlSource(filename, expect)
    result = None
    if source.read(text):
        # Where reading the YAML already failed (a bad tag, a duplicate key), that is
        # the message; the schema's view of the leftover value would only add noise.
        unread = {path for path, _ in source.issues}
        for path, message, at_key in schema_issues(source.data):
            if path not in unread:
                source.issue(path, message, at_key=at_key)
        result = build(source)
    issues = source.issues.values()
    source.release()
    if issues:
        raise ConfigError(issues)
    return result  # type: ignore[return-value]   # None only with issues, raised


class YamlSource:
    """A YAML document as plain data, with where each piece of it is in the file.

    Paths are tuples of mapping keys (as strings: YAML's 3 and '3' are the same key
    here) and list indexes. Mapping keys stay strings in ``data`` so that the schema can
    check them; ``keys`` keeps each key as YAML typed it (3 or '3')."""

    def __init__(self, filename: str, expect: str = 'a mapping') -> None:
        self.filename = filename
        self.expect = expect  # what the document should be, for messages
        self.data: Any = None
        self.value_marks: dict[Path, Any] = {}  # path -> yaml Mark of the value
        self.key_marks: dict[Path, Any] = {}  # path -> yaml Mark of the key
        self.keys: dict[Path, Any] = {}  # path -> the key as YAML constructed it
        self.plain: dict[Path, str] = {}  # path -> text of a plain (unquoted) scalar
        self.issues: dict[tuple[Path, str], ConfigIssue] = {}  # one of each
        self._constructor: Any = None
        self._active: set[int] = set()  # ids of the collection nodes being walked
        self._nodes = 0

    # --- reporting ---------------------------------------------------------------------

    def issue(self, path: Path, message: str, at_key: bool = False, mark: Any = None) -> None:
        """Report ``message`` about ``path`` (about its key, with ``at_key``), at
        ``mark`` if given, else where ``path`` is written; once per path and message."""
        if mark is None:
            mark = self._mark(path, at_key)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, None)
        text = '.'.join(str(part) for part in path)
        self.issues.setdefault(
            (path, message), ConfigIssue(self.filename, line, column, text, message)
        )

    def release(self) -> None:
        """Drop the document and its places (a million objects for a file of a few
        MB) now, by reference counting: a builder may be caught in a reference cycle
        (an exception's traceback holding its frame) that only the garbage collector
        would free, much later and all at once. The issues stay."""
        self.data = None
        for places in (self.value_marks, self.key_marks, self.keys, self.plain):
            places.clear()
        self._constructor = None

    def has_issue_at(self, path: Path) -> bool:
        return any(known == path for known, _ in self.issues)

    def _mark(self, path, at_key):
        """Where to point for ``path``: at a scalar value itself, at the key of a
        mapping or list (its value may start lines later), or the nearest parent."""
        while path:
            value_mark = self.value_marks.get(path)
            if at_key or not self._is_scalar(path):
                mark = self.key_marks.get(path) or value_mark
            else:
                mark = value_mark
            if mark is not None:
                return mark
            path = path[:-1]
        return self.value_marks.get(())

    def _is_scalar(self, path):
        value = self.data
        for part in path:
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                return True
        return not isinstance(value, (dict, list))

    def line_of(self, path: Path) -> int | None:
        """The line of the key of ``path`` (or of its nearest parent)."""
        mark = self._mark(path, at_key=True)
        return mark.line + 1 if mark is not None else None

    # --- reading -----------------------------------------------------------------------

    def read(self, text: str | bytes) -> bool:
        """Read ``text`` into ``data``; False if there is no document to check."""
        if isinstance(text, bytes):
            raw = text
            try:
                text = raw.decode('utf-8')
            except UnicodeDecodeError as error:
                line = raw[: error.start].count(b'\n') + 1
                self.issues[((), 'utf-8')] = ConfigIssue(
                    self.filename, line, None, '', 'not UTF-8 text (byte 0x%02x)' % raw[error.start]
                )
                return False
        try:
            loader, root = _compose(text)
        except yaml.YAMLError as error:
            self._syntax_error(error, text)
            return False
        except RecursionError:  # the composer nests as the collections do
            self.issue((), 'lists or mappings are nested too deeply to read')
            return False
        self._constructor = loader
        try:
            if root is None:
                self.issue((), 'the file is empty; expected %s' % self.expect)
                return False
            self.data = self._walk(root, ())
            return True
        except _TooLarge:
            self.issue(
                (), 'the file expands to more than %d values through its aliases' % MAX_NODES
            )
            return False
        except RecursionError:
            self.issue((), 'lists or mappings are nested too deeply to read')
            return False
        finally:
            loader.dispose()

    def _syntax_error(self, error, text):
        if isinstance(error, yaml.reader.ReaderError):
            before = text[: error.position]
            message = 'not YAML: character #x%04x is not allowed (%s)' % (
                error.character,
                error.reason,
            )
            self.issues[((), 'yaml')] = ConfigIssue(
                self.filename,
                before.count('\n') + 1,
                error.position - before.rfind('\n'),
                '',
                message,
            )
            return
        mark = getattr(error, 'problem_mark', None) or getattr(error, 'context_mark', None)
        problem = getattr(error, 'problem', None) or str(error)
        context = getattr(error, 'context', None)
        context_mark = getattr(error, 'context_mark', None)
        if context and context_mark is not None and context_mark is not mark:
            problem += ' (%s at line %d)' % (context, context_mark.line + 1)
        self.issue((), 'YAML syntax error: %s' % problem, mark=mark)

    def _walk(self, node, path):
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _TooLarge()
        self.value_marks[path] = node.start_mark
        if isinstance(node, yaml.ScalarNode):
            if not node.style:  # None from Python's reader, '' from libyaml's
                self.plain[path] = node.value
            return self._scalar(node, path)
        if node.tag not in _COLLECTION_TAGS:
            self.issue(path, 'YAML: the tag %s is not supported here' % _short_tag(node.tag))
            return None
        if id(node) in self._active:
            self.issue(path, 'an alias that contains itself')
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [
                    self._walk(child, path + (index,)) for index, child in enumerate(node.value)
                ]
            return self._mapping(node, path)
        finally:
            self._active.discard(id(node))

    def _scalar(self, node, path):
        try:
            return self._constructor.construct_object(node)
        except yaml.constructor.ConstructorError as error:
            self.issue(path, 'YAML: %s' % _short_tag(error.problem))
        except Exception:  # the constructor of a tag (!!int abc) failed
            self.issue(path, 'YAML: %r is not a valid %s' % (node.value, _short_tag(node.tag)))
        return None

    def _mapping(self, node, path):
        result = {}
        for key_node, value_node, key in self._pairs(node, path):
            key_path = path + (_key_text(key),)
            self.key_marks[key_path] = key_node.start_mark
            self.keys[key_path] = key
            result[_key_text(key)] = self._walk(value_node, key_path)
        return result

    def _pairs(self, node, path):
        """(key node, value node, key) of a mapping, merge keys (<<) applied. A key
        written twice is an error: YAML would silently keep the last value."""
        merged, own = {}, {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for source in sources:
                    if not isinstance(source, yaml.MappingNode):
                        self.issue(path, 'a merge (<<) takes mappings only', mark=source.start_mark)
                    elif id(source) in self._active:
                        self.issue(
                            path, 'a merge (<<) of a mapping into itself', mark=source.start_mark
                        )
                    else:
                        self._active.add(id(source))
                        for pair in self._pairs(source, path):
                            merged.setdefault(_key_text(pair[2]), pair)  # first wins
                        self._active.discard(id(source))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.issue(
                    path,
                    'a key must be a name or a number, not a list or mapping',
                    mark=key_node.start_mark,
                )
                continue
            key = self._scalar(key_node, path)
            text = _key_text(key)
            if text in own:
                first = own[text][0].start_mark.line + 1
                self.issue(
                    path + (text,),
                    "duplicate key '%s' (first at line %d); YAML "
                    "would silently keep only the last one" % (text, first),
                    mark=key_node.start_mark,
                )
            own[text] = (key_node, value_node, key)
        merged.update(own)
        return list(merged.values())


def _compose(text):
    """(loader, root node or None) of ``text``: by libyaml if PyYAML has it, else (or
    if libyaml refuses the text, for the message) by the pure Python reader. YAMLError
    as the Python reader words it; RecursionError for nesting too deep. The caller
    disposes of the loader, whose constructor it uses for scalars."""
    if _LibyamlLoader is not None:
        try:
            return _compose_with(_LibyamlLoader, text)
        except yaml.YAMLError:
            pass  # read again below: the Python reader's message
    return _compose_with(yaml.SafeLoader, text)


def _compose_with(loader_class, text):
    loader = loader_class(text)  # the Python reader checks every character here
    try:
        return loader, loader.get_single_node()
    except BaseException:
        loader.dispose()
        raise


def _short_tag(tag):
    return tag.replace('tag:yaml.org,2002:', '!!')


def _key_text(key):
    if isinstance(key, bool):
        return str(key).lower()
    if key is None:
        return 'null'
    return str(key)

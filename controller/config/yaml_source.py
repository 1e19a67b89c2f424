"""YAML read into plain data with the line and column of every key and value, so that
a problem found anywhere later (by the schema, by a check across the file) is reported
where it is written. Reading guards against hostile input: alias expansion ("billion
laughs"), alias and merge loops, nesting too deep for the parser, unsupported tags, and
a key written twice (YAML would silently keep the last one).

    source = YamlSource('policy.yaml', "a mapping with 'dps', 'vlans' and 'acls'")
    if source.read(text):
        ...source.data..., source.issue(('dps', 's1'), 'what is wrong')

:func:`load_checked` is the whole of a loader's front: read, check against a schema,
build, and raise every problem at once.
"""

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import yaml

from controller.config.errors import ConfigError, ConfigIssue

Path = tuple[Any, ...]               # mapping keys (str) and list indexes (int)
SchemaIssues = Iterable[tuple[Path, str, bool]]   # (path, message, at_key)
T = TypeVar('T')

_MERGE_TAG = 'tag:yaml.org,2002:merge'
_COLLECTION_TAGS = ('tag:yaml.org,2002:seq', 'tag:yaml.org,2002:map')
# Aliases can make a small file expand enormously ("billion laughs"); a real
# configuration has far fewer nodes than this.
MAX_NODES = 1000000


class _TooLarge(Exception):
    pass


def load_file(path: str, load_text: Callable[..., T]) -> T:
    """``load_text(contents, filename=path)`` of the file at ``path``; a ConfigError
    naming the file if it cannot be read."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as error:
        raise ConfigError([ConfigIssue(str(path), None, None, '',
                                       'cannot read the file: %s' % error.strerror)])
    return load_text(data, filename=str(path))


def load_checked(text: str | bytes, filename: str, expect: str,
                 schema_issues: Callable[[Any], SchemaIssues],
                 build: Callable[['YamlSource'], T | None]) -> T:
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
    if source.issues:
        raise ConfigError(source.issues.values())
    return result      # type: ignore[return-value]   # None only with issues, raised


class YamlSource:
    """A YAML document as plain data, with where each piece of it is in the file.

    Paths are tuples of mapping keys (as strings: YAML's 3 and '3' are the same key
    here) and list indexes. Mapping keys stay strings in ``data`` so that the schema can
    check them; ``keys`` keeps each key as YAML typed it (3 or '3')."""

    def __init__(self, filename: str, expect: str = 'a mapping') -> None:
        self.filename = filename
        self.expect = expect          # what the document should be, for messages
        self.data: Any = None
        self.value_marks: dict[Path, Any] = {}   # path -> yaml Mark of the value
        self.key_marks: dict[Path, Any] = {}     # path -> yaml Mark of the key
        self.keys: dict[Path, Any] = {}          # path -> the key as YAML constructed it
        self.plain: dict[Path, str] = {}         # path -> text of a plain (unquoted) scalar
        self.issues: dict[tuple[Path, str], ConfigIssue] = {}   # one of each
        self._constructor: Any = None
        self._active: set[int] = set()   # ids of the collection nodes being walked
        self._nodes = 0

    # --- reporting ---------------------------------------------------------------------

    def issue(self, path: Path, message: str, at_key: bool = False,
              mark: Any = None) -> None:
        """Report ``message`` about ``path`` (about its key, with ``at_key``), at
        ``mark`` if given, else where ``path`` is written; once per path and message."""
        if mark is None:
            mark = self._mark(path, at_key)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, None)
        text = '.'.join(str(part) for part in path)
        self.issues.setdefault((path, message),
                               ConfigIssue(self.filename, line, column, text, message))

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
                line = raw[:error.start].count(b'\n') + 1
                self.issues[((), 'utf-8')] = ConfigIssue(
                    self.filename, line, None, '', 'not UTF-8 text (byte 0x%02x)'
                    % raw[error.start])
                return False
        try:
            loader = yaml.SafeLoader(text)
        except yaml.YAMLError as error:    # the reader checks every character first
            self._syntax_error(error, text)
            return False
        self._constructor = loader
        try:
            root = loader.get_single_node()
            if root is None:
                self.issue((), 'the file is empty; expected %s' % self.expect)
                return False
            self.data = self._walk(root, ())
            return True
        except yaml.YAMLError as error:
            self._syntax_error(error, text)
            return False
        except _TooLarge:
            self.issue((), 'the file expands to more than %d values through its aliases'
                       % MAX_NODES)
            return False
        except RecursionError:            # PyYAML composes nested collections recursively
            self.issue((), 'lists or mappings are nested too deeply to read')
            return False
        finally:
            loader.dispose()

    def _syntax_error(self, error, text):
        if isinstance(error, yaml.reader.ReaderError):
            before = text[:error.position]
            message = 'not YAML: character #x%04x is not allowed (%s)' % (
                error.character, error.reason)
            self.issues[((), 'yaml')] = ConfigIssue(
                self.filename, before.count('\n') + 1, error.position - before.rfind('\n'),
                '', message)
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
            if node.style is None:
                self.plain[path] = node.value
            return self._scalar(node, path)
        if node.tag not in _COLLECTION_TAGS:
            self.issue(path, 'YAML: the tag %s is not supported here'
                       % _short_tag(node.tag))
            return None
        if id(node) in self._active:
            self.issue(path, 'an alias that contains itself')
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self._walk(child, path + (index,))
                        for index, child in enumerate(node.value)]
            return self._mapping(node, path)
        finally:
            self._active.discard(id(node))

    def _scalar(self, node, path):
        try:
            return self._constructor.construct_object(node)
        except yaml.constructor.ConstructorError as error:
            self.issue(path, 'YAML: %s' % _short_tag(error.problem))
        except Exception:                 # the constructor of a tag (!!int abc) failed
            self.issue(path, 'YAML: %r is not a valid %s'
                       % (node.value, _short_tag(node.tag)))
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
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) \
                    else [value_node]
                for source in sources:
                    if not isinstance(source, yaml.MappingNode):
                        self.issue(path, 'a merge (<<) takes mappings only',
                                   mark=source.start_mark)
                    elif id(source) in self._active:
                        self.issue(path, 'a merge (<<) of a mapping into itself',
                                   mark=source.start_mark)
                    else:
                        self._active.add(id(source))
                        for pair in self._pairs(source, path):
                            merged.setdefault(_key_text(pair[2]), pair)   # first wins
                        self._active.discard(id(source))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.issue(path, 'a key must be a name or a number, not a list or mapping',
                           mark=key_node.start_mark)
                continue
            key = self._scalar(key_node, path)
            text = _key_text(key)
            if text in own:
                first = own[text][0].start_mark.line + 1
                self.issue(path + (text,), "duplicate key '%s' (first at line %d); YAML "
                           "would silently keep only the last one" % (text, first),
                           mark=key_node.start_mark)
            own[text] = (key_node, value_node, key)
        merged.update(own)
        return list(merged.values())


def _short_tag(tag):
    return tag.replace('tag:yaml.org,2002:', '!!')


def _key_text(key):
    if isinstance(key, bool):
        return str(key).lower()
    if key is None:
        return 'null'
    return str(key)

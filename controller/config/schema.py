"""What the configuration schemas share: a JSON Schema validator that takes only ints
as integers, and the words messages use for values."""

import re
from typing import Any

import jsonschema


def strict_validator(schema: dict) -> Any:
    """A Draft 2020-12 validator of ``schema`` for which an integer is an int: JSON
    Schema counts 1.0 (and YAML's true) as one, and a port number written 1.0 is a
    mistake."""
    types = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        'integer', lambda checker, value: isinstance(value, int) and not isinstance(value, bool)
    )
    return jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=types)(schema)


def parse_int(value: Any) -> int:
    """An int from an int or from a string in decimal or 0x hex; ValueError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(r'0x[0-9a-f]+', text):
            return int(text, 16)
        if re.fullmatch(r'[0-9]+', text):
            return int(text)
    raise ValueError('not an integer')


def describe(value: Any) -> str:
    """A value as a message names it: "the string 'abc'", "a list", ..."""
    if value is None:
        return 'nothing (null)'
    if isinstance(value, bool):
        return 'the boolean %s' % str(value).lower()
    if isinstance(value, int):
        return 'the integer %d' % value
    if isinstance(value, float):
        return 'the number %r' % value
    if isinstance(value, str):
        return 'the string %r' % value
    if isinstance(value, list):
        return 'a list'
    if isinstance(value, dict):
        return 'a mapping'
    return 'a %s' % type(value).__name__

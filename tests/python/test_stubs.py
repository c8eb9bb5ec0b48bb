"""The type stubs (python/iis/__init__.pyi) name every option with the module's defaults, and the
docstrings list fit's options."""

import ast
import inspect
import os

import iis

STUB = os.path.join(os.path.dirname(iis.__file__), "__init__.pyi")


def stub_keywords(function):
    with open(STUB) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            args = node.args
            return {a.arg: ast.literal_eval(d)
                    for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None}
    raise AssertionError(f"{function} is not in {STUB}")


def same(a, b):
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b and type(a) in (type(b), int, float) and type(b) in (type(a), int, float)


def test_fit_stub_has_every_option_with_its_default():
    table = iis.fit_options()
    stub = stub_keywords("fit")
    stub.pop("out")
    stub.pop("quiet")
    assert sorted(stub) == sorted(table)
    for name, (default, _) in table.items():
        assert same(stub[name], default), (name, stub[name], default)


def test_other_stubs_have_the_defaults_of_the_options_structs():
    for function, defaults in iis._iis._defaults().items():
        stub = stub_keywords(function)
        assert sorted(stub) == sorted(defaults), function
        for name, default in defaults.items():
            assert same(stub[name], default), (function, name, stub[name], default)


def test_fit_docstring_lists_every_option():
    doc = inspect.getdoc(iis.fit)
    for name, (default, text) in iis.fit_options().items():
        assert f"{name} = {default!r}: {text}" in doc

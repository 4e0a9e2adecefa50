"""Print the requirements of the oldest-Keras CI step, read from pyproject.toml; ``--check``: fail
unless the running Python has exactly those TensorFlow and Keras versions installed.

The project's own dependencies, with TensorFlow and Keras pinned to the lower bounds pyproject
claims (``tensorflow>=2.18`` -> ``tensorflow-cpu==2.18.*``, ``keras>=3.10`` -> ``keras==3.10.*``),
and the one test tool the subset needs (pytest, with the bound of the ``test`` extra). Raising a
floor in pyproject moves the step with it.

TensorFlow comes as ``tensorflow-cpu`` (a third of the download; CI has no GPU): a distribution of
another name, so the project itself is then installed with ``pip install --no-deps .``.
"""

import re
import sys
import tomllib
from importlib import metadata

PINNED = {"tensorflow": "tensorflow-cpu", "keras": "keras"}
TEST_TOOLS = ("pytest",)


def _name(requirement):
    return re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()


def _lowest(requirement):
    found = re.search(r">=\s*([0-9]+\.[0-9]+)", requirement)
    if not found:
        raise SystemExit(f"oldest_requirements: no '>=' lower bound in {requirement!r}")
    return found.group(1)


def _project():
    with open("pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def requirements():
    project = _project()
    lines = []
    for requirement in project["dependencies"]:
        name = _name(requirement)
        lines.append(f"{PINNED[name]}=={_lowest(requirement)}.*" if name in PINNED else requirement)
    tests = {_name(r): r for r in project["optional-dependencies"]["test"]}
    return lines + [tests[tool] for tool in TEST_TOOLS]


def _installed(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check():
    """``ci: oldest pair: tensorflow-cpu 2.18.1, keras 3.10.0``, or exit 1 if a pin did not hold (or a
    second TensorFlow, ``tensorflow`` itself, came in through a dependency: both fill one package)."""
    found = []
    for requirement in requirements():
        name, _, pin = requirement.partition("==")
        if pin:
            version = _installed(name)
            if version is None or not version.startswith(pin.rstrip("*")):
                sys.exit(f"ci: the oldest-Keras step wants {requirement}, found {name} {version}")
            found.append(f"{name} {version}")
    if _installed("tensorflow"):
        sys.exit(f"ci: the oldest-Keras step found tensorflow {_installed('tensorflow')} next to tensorflow-cpu")
    print("ci: oldest pair: " + ", ".join(found))


if __name__ == "__main__":
    check() if sys.argv[1:] == ["--check"] else print("\n".join(requirements()))

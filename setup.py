"""Build hook: ship the notebooks and the synthetic sample inside the package.

``pip install .`` (not editable) installs only ``src/helpers``; without this, an installed
``fishpond run`` started outside a checkout finds no notebooks and no sample. The wheel gets
copies under ``helpers/bundle/`` (``notebooks/*.ipynb`` and ``data/sample/``), which
``helpers.paths`` uses whenever the working folder has none of its own. Everything else is in
pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = {"notebooks": "*.ipynb", "data/sample": "**/*"}


class BuildWithBundle(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "helpers" / "bundle"
        for folder, pattern in BUNDLED.items():
            for source in sorted((ROOT / folder).glob(pattern)):
                if source.is_file() and "__pycache__" not in source.parts:
                    destination = target / folder / source.relative_to(ROOT / folder)
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, destination)


setup(cmdclass={"build_py": BuildWithBundle})

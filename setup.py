"""The package list of setup.cfg, which `find:` cannot give: modules/ and grammar/ of the checkout
are installed as kampy.modules and kampy.grammar (setup.cfg's package_dir)."""
from setuptools import find_packages, setup

setup(packages=[
    *find_packages(include=["kampy", "kampy.*"]),
    "kampy.grammar",
    *(f"kampy.{name}" for name in find_packages(include=["modules", "modules.*"])),
])

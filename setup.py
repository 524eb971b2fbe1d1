"""The one compiled part of spherekit: the bulk-read scanner (spherekit/wire/_scan.c).

It is optional: where it cannot be built, spherekit reads the same answers with lxml
(``spherekit.property`` picks whichever is there). Everything else is in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "spherekit.wire._scan",
            ["spherekit/wire/_scan.c"],
            optional=True,
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)

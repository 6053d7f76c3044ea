"""Check a spec written in code, the way an editor plugin or a pre-commit hook would."""

import bizinfra

TEXT = """\
name: shop
domain: shop.example.com
services:
  web: {port: 8080, calls: [cart]}
  cart: {port: 8080}
"""

try:
    bizinfra.parse_platform(TEXT, "shop.yaml")
except bizinfra.SpecError as error:
    for problem in error.problems:
        print(f"line {problem.line}, {problem.path}: {problem.message}")

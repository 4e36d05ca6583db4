#!/usr/bin/env python3
"""Expands a SAM template into the CloudFormation it deploys as, offline, so that cfn-lint can check what SAM
generates (a plain lint of the SAM file skips the inside of Events). Usage: sam_to_cfn.py template.yaml out.json

Managed policy names resolve from the list aws-sam-translator ships instead of a call to IAM."""

import json
import pathlib
import sys

import samtranslator
from samtranslator.public.exceptions import InvalidDocumentException
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class BundledPolicies(ManagedPolicyLoader):
    """The AWS managed policies of the aws partition, from the translator's own data."""

    def __init__(self) -> None:
        super().__init__(iam_client=None)
        data = pathlib.Path(samtranslator.__file__).parent / "internal" / "data" / "aws_managed_policies.json"
        self._policy_map = json.loads(data.read_text())["aws"]

    def load(self) -> dict:
        return self._policy_map


def with_placeholder_code(template: dict) -> dict:
    """Local CodeUri paths become S3 URIs, as `sam package` would make them: the translator takes nothing else."""
    for name, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and not str(properties.get("CodeUri", "")).startswith("s3://"):
            properties["CodeUri"] = f"s3://ccbulk-lint-placeholder/{name}.zip"
    return template


def main() -> int:
    source, target = sys.argv[1], sys.argv[2]
    template = with_placeholder_code(yaml_parse(pathlib.Path(source).read_text()))
    try:
        expanded = transform(template, {}, BundledPolicies())
    except InvalidDocumentException as error:
        for cause in error.causes:
            print(f"{source}: {cause.message}", file=sys.stderr)
        print(f"{source}: InvalidDocumentException", file=sys.stderr)
        return 1
    pathlib.Path(target).write_text(json.dumps(expanded, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

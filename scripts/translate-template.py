#!/usr/bin/env python3
"""Translate template.yaml with the AWS SAM translator, offline.

usage: translate-template.py TEMPLATE OUTDIR

For every allowed value of each parameter that changes what the SAM
transform generates (PARAMETER_CASES), the template is translated into plain
CloudFormation, checked against what that value must produce, and written to
OUTDIR/<name>-<value>.json for cfn-lint. Every other parameter with
AllowedValues must pass through the translator untouched (its value only
reaches CloudFormation), which is checked too: one that starts to change the
translation has to be added to PARAMETER_CASES.

Exit status 1 on any translator error or failed expectation. Needs only
aws-sam-translator and PyYAML (both come with cfn-lint): no AWS account, no
network.
"""

import copy
import json
import logging
import os
import sys

import yaml
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform

SAM = "AWS::Serverless-2016-10-31"
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
# What `sam package` puts in place of a local CodeUri (the translator only
# accepts S3 locations); the object itself is never read.
PACKAGED_CODE = "s3://patientsync-artifacts/code.zip"


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (!Ref, !Sub, !GetAtt...)."""


def _intrinsic(loader, _suffix, node):
    name = node.tag[1:]
    key = name if name in ("Ref", "Condition") else "Fn::" + name
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


_Loader.add_multi_constructor("!", _intrinsic)


class _NoManagedPolicies(ManagedPolicyLoader):
    """The translator asks IAM for managed policy ARNs only when a function's
    Policies name one by name; this template's functions have inline
    statements, so a lookup is a mistake to report, not a reason to go
    online."""

    def __init__(self):  # no IAM client
        pass

    def load(self):
        raise RuntimeError("a managed policy is named by its name: the translator would call IAM")


def _substitute_refs(value, values):
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("Ref"), str) and value["Ref"] in values:
            return copy.deepcopy(values[value["Ref"]])
        return {k: _substitute_refs(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute_refs(v, values) for v in value]
    return value


def language_extensions(template, overrides, keep=()):
    """What AWS::LanguageExtensions does to this template before the SAM
    transform sees it, emulated.

    The SAM translator does not implement AWS::LanguageExtensions, and the
    template depends on it: a route's Auth.Authorizer must be a literal for
    SAM, and the template gives !Ref ApiAuthorization, which CloudFormation's
    language extensions resolve to the deployed value first. Here every !Ref
    to a parameter inside Resources is replaced by the value it has in this
    deployment (the override, else a non-empty Default), which is also how
    cfn-lint emulates this transform. Parameters with no value here (an empty
    Default: the database, VPC and alarm topic ones) keep their !Ref, as they
    would for CloudFormation to resolve. The template uses no other language
    extension (Fn::ForEach, Fn::Length, Fn::ToJsonString...): one would reach
    the translator unresolved and fail there, so it cannot go unnoticed.
    Parameters in keep stay !Ref too (see passes_through).
    """
    values = {}
    for name, p in template.get("Parameters", {}).items():
        value = overrides.get(name, p.get("Default"))
        if name in keep or value in (None, ""):
            continue
        if p.get("Type") == "CommaDelimitedList":
            value = value.split(",")
        values[name] = value
    template["Resources"] = _substitute_refs(template["Resources"], values)


def translate(source, overrides, keep=()):
    """The CloudFormation the transforms make of source for these parameter
    values, in the order the template lists them (SAM must come last: a
    language extension after it would run too late)."""
    template = copy.deepcopy(source)
    transforms = template.pop("Transform", [])
    if isinstance(transforms, str):
        transforms = [transforms]
    for name in transforms:
        if name == LANGUAGE_EXTENSIONS:
            language_extensions(template, overrides, keep)
        elif name == SAM:
            for resource in template["Resources"].values():
                props = resource.get("Properties") or {}
                if resource.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
                    props["CodeUri"] = PACKAGED_CODE
            template = transform(template, dict(overrides), _NoManagedPolicies())
            template.pop("Transform", None)
        else:
            raise ValueError(f"transform {name} is not emulated here")
    return template


# ------------------------------------------------------------ expectations


def _http_api_events(source):
    """(method, path) -> function id of the template's HttpApi events."""
    events = {}
    for fid, resource in source["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") == "HttpApi":
                props = event.get("Properties", {})
                events[(str(props.get("Method")).upper(), props.get("Path"))] = fid
    return events


def expect_api_authorization(source, out, value):
    """ApiAuthorization decides the authorization of every route.
    AWS_IAM: each requires SigV4 (the awsSigv4 security scheme). NONE: each
    carries SAM's NONE marker instead, i.e. no authorizer, the HttpApi's
    DefaultAuthorizer notwithstanding. Either way every route of the template
    is there and API Gateway may invoke its function."""
    problems = []
    want = _http_api_events(source)
    apis = [r for r in out["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    if len(apis) != 1:
        return [f"{len(apis)} AWS::ApiGatewayV2::Api resources, want 1"]
    body = apis[0]["Properties"].get("Body", {})
    routes = {(m.upper(), path): op for path, methods in body.get("paths", {}).items() for m, op in methods.items()}
    if not want or set(routes) != set(want):
        problems.append(f"API routes {sorted(routes)}, want the template's HttpApi events {sorted(want)}")
    for (method, path), op in sorted(routes.items()):
        if op.get("security") != [{value: []}]:
            problems.append(f"{method} {path}: security {op.get('security')}, want [{{{value!r}: []}}]")
    if value == "AWS_IAM":
        scheme = body.get("components", {}).get("securitySchemes", {}).get("AWS_IAM", {})
        if scheme.get("x-amazon-apigateway-authtype") != "awsSigv4":
            problems.append(f"securitySchemes.AWS_IAM = {scheme}, want x-amazon-apigateway-authtype awsSigv4")
    invokable = {
        r["Properties"]["FunctionName"].get("Ref")
        for r in out["Resources"].values()
        if r["Type"] == "AWS::Lambda::Permission" and r["Properties"].get("Principal") == "apigateway.amazonaws.com"
    }
    if invokable != set(want.values()):
        problems.append(f"API Gateway may invoke {sorted(invokable)}, want {sorted(set(want.values()))}")
    return problems


# Parameters whose value changes the translation: each allowed value is
# translated and checked. SyncAllowMassDelete (true/false) and
# LogRetentionDays only end up as property values (an environment variable,
# RetentionInDays), which passes_through verifies.
PARAMETER_CASES = {
    "ApiAuthorization": expect_api_authorization,
}


def _contains_ref(value, name):
    if isinstance(value, dict):
        return value == {"Ref": name} or any(_contains_ref(v, name) for v in value.values())
    if isinstance(value, list):
        return any(_contains_ref(v, name) for v in value)
    return False


def passes_through(source, name, allowed):
    """The parameter's !Ref survives the translation as a !Ref for
    CloudFormation, and the translation is the same whichever allowed value
    the translator is told: so the value does not change the resources."""
    # Two different values are enough to see whether the translator reads it.
    outs = [translate(source, {name: v}, keep=(name,)) for v in (allowed[0], allowed[-1])]
    problems = []
    if not _contains_ref(outs[0]["Resources"], name):
        problems.append(f"no !Ref {name} is left in the translation")
    if any(o != outs[0] for o in outs[1:]):
        problems.append(f"the translation depends on {name}: add it to PARAMETER_CASES")
    return problems


def _errors(exc):
    if isinstance(exc, InvalidDocumentException):
        return [str(getattr(c, "message", c)) for c in exc.causes]
    return [f"{type(exc).__name__}: {exc}"]


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    path, outdir = argv[1], argv[2]
    # The translator builds ARNs for a region; any will do. Its usage
    # metrics are never published, and it says so on every translation.
    logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(path, encoding="utf-8") as f:
        source = yaml.load(f, Loader=_Loader)
    params = source.get("Parameters", {})
    failed = False

    for name, expect in PARAMETER_CASES.items():
        allowed = params.get(name, {}).get("AllowedValues")
        if not allowed:
            print(f"{path}: parameter {name} has no AllowedValues", file=sys.stderr)
            failed = True
            continue
        for value in allowed:
            label = f"{name}={value}"
            try:
                out = translate(source, {name: value})
            except Exception as exc:  # the translator's errors, and ours
                for e in _errors(exc):
                    print(f"{path} ({label}): translator: {e}", file=sys.stderr)
                failed = True
                continue
            problems = expect(source, out, value)
            for p in problems:
                print(f"{path} ({label}): {p}", file=sys.stderr)
            failed = failed or bool(problems)
            # For cfn-lint: the emulated language extensions leave the
            # parameters they resolved declared but unreferenced, which is no
            # fault of the template (W2001; cfn-lint skips that rule on
            # template.yaml, as on any template with a transform). The
            # informational findings are listed for template.yaml already.
            out.setdefault("Metadata", {})["cfn-lint"] = {"config": {"ignore_checks": ["W2001", "I"]}}
            dest = os.path.join(outdir, f"{name}-{value}.json")
            with open(dest, "w", encoding="utf-8") as f:
                json.dump(out, f, indent=1, sort_keys=True)
            print(f"translated {label}: {len(out['Resources'])} resources ({os.path.basename(dest)})")

    for name, p in sorted(params.items()):
        if name in PARAMETER_CASES or not p.get("AllowedValues"):
            continue
        try:
            problems = passes_through(source, name, p["AllowedValues"])
        except Exception as exc:
            problems = [f"translator: {e}" for e in _errors(exc)]
        for msg in problems:
            print(f"{path} ({name}): {msg}", file=sys.stderr)
        failed = failed or bool(problems)
        if not problems:
            print(f"{name}: passes through to CloudFormation (translates alike for {p['AllowedValues'][0]} and {p['AllowedValues'][-1]})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

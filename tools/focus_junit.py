"""Reads focus-validator's JUnit XML and fails on any failed or errored rule.

focus-validator 2.x exits 0 even when rules fail, so this is the verdict. One
exemption, printed when used: a failed rule that is an alternative of an "OR"
composite rule which itself passed (for example InvoiceId-C-004-C "must be null"
versus InvoiceId-C-005-C "must not be null": exactly one can hold, and the
composite InvoiceId-C-003-C checks that one does).

usage: python focus_junit.py JUNIT_XML MODEL_JSON
"""

import json
import sys
import xml.etree.ElementTree as ET


def rule_id(testcase_name):
    return testcase_name.split(" :: ")[0].strip()


def or_alternatives(model):
    """child rule id -> the OR composite rules it is an alternative of."""
    parents = {}
    for rid, rule in model["ModelRules"].items():
        req = rule.get("ValidationCriteria", {}).get("Requirement", {})
        if req.get("CheckFunction") != "OR":
            continue
        for item in req.get("Items", []):
            if item.get("CheckFunction") == "CheckModelRule":
                parents.setdefault(item["ModelRuleId"], []).append(rid)
    return parents


def main(junit_path, model_path):
    with open(model_path) as f:
        parents = or_alternatives(json.load(f))
    root = ET.parse(junit_path).getroot()
    outcome = {}
    for tc in root.iter("testcase"):
        kinds = {child.tag for child in tc}
        bad = kinds & {"failure", "error"}
        outcome[rule_id(tc.get("name", ""))] = (
            "bad" if bad else "skipped" if "skipped" in kinds else "passed",
            sorted(bad),
            tc,
        )
    failed, exempt = [], []
    for rid, (state, kinds, tc) in sorted(outcome.items()):
        if state != "bad":
            continue
        passing = [p for p in parents.get(rid, []) if outcome.get(p, ("",))[0] == "passed"]
        if passing and kinds == ["failure"]:
            exempt.append((rid, passing))
        else:
            msg = next((c.get("message") or c.text or "" for c in tc), "")
            failed.append((rid, "/".join(kinds), msg))
    counts = {s: sum(1 for v in outcome.values() if v[0] == s) for s in ("passed", "skipped", "bad")}
    print(f"focus-validator: {counts['passed']} passed, {counts['skipped']} skipped (not applicable), "
          f"{counts['bad']} failed or errored")
    for rid, passing in exempt:
        print(f"  exempt: {rid} is an alternative of passing OR rule {', '.join(passing)}")
    for rid, kind, msg in failed:
        print(f"  {kind}: {rid}: {msg[:300]}")
    if failed:
        print(f"FOCUS CHECK FAILED: {len(failed)} rule(s)")
        return 1
    print("FOCUS CHECK PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

"""Checks the Connect sandbox with a client ccbulk did not write: boto3's connect client.

Usage: python3 boto3_connect_check.py PATH_TO_ccbulk-sandbox
Starts the sandbox binary, reads its one-line JSON, drives it with boto3, and stops it. Exits non-zero on the
first mismatch; prints 'N passed, 0 failed' at the end.
"""

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

checks = 0


def check(condition, what):
    global checks
    if not condition:
        print(f"FAILED: {what}", file=sys.stderr)
        print(f"{checks} passed, 1 failed")
        sys.exit(1)
    checks += 1


def error_code(call):
    try:
        call()
    except ClientError as err:
        return err.response["Error"]["Code"]
    return None


def main():
    sandbox = subprocess.Popen([sys.argv[1]], stdout=subprocess.PIPE, text=True)
    try:
        ready = json.loads(sandbox.stdout.readline())
        endpoint = ready["connect"]["endpoint"]
        instance = ready["connect"]["instance_id"]

        def client(attempts):
            return boto3.client(
                "connect",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="AKIDBOTO3",
                aws_secret_access_key="boto3-secret",
                config=Config(retries={"max_attempts": attempts, "mode": "standard"}),
            )

        connect = client(1)
        described = connect.describe_instance(InstanceId=instance)["Instance"]
        check(described["IdentityManagementType"] == "CONNECT_MANAGED", "DescribeInstance identity management")

        routing = {p["Name"]: p["Id"] for p in connect.list_routing_profiles(InstanceId=instance)["RoutingProfileSummaryList"]}
        security = {p["Name"]: p["Id"] for p in connect.list_security_profiles(InstanceId=instance)["SecurityProfileSummaryList"]}
        check("Basic Routing Profile" in routing and "Agent" in security, "List* lookups")

        def create(username, **extra):
            return connect.create_user(
                InstanceId=instance,
                Username=username,
                Password=extra.pop("Password", "Passw0rd!"),
                IdentityInfo={"FirstName": "Boto", "LastName": "Three"},
                PhoneConfig={"PhoneType": "SOFT_PHONE", "AutoAccept": False, "AfterContactWorkTimeLimit": 0},
                SecurityProfileIds=[security["Agent"]],
                RoutingProfileId=routing["Basic Routing Profile"],
                **extra,
            )

        created = create("boto3user", Tags={"source": "boto3"})
        user_id = created["UserId"]
        check(created["UserArn"].endswith("/agent/" + user_id), "CreateUser returns the user's ARN")
        user = connect.describe_user(InstanceId=instance, UserId=user_id)["User"]
        check(user["Username"] == "boto3user" and user["Tags"] == {"source": "boto3"}, "DescribeUser")
        check(user["PhoneConfig"]["PhoneType"] == "SOFT_PHONE", "DescribeUser phone config")

        found = connect.search_users(
            InstanceId=instance,
            SearchCriteria={"StringCondition": {"FieldName": "Username", "Value": "boto3user", "ComparisonType": "EXACT"}},
        )["Users"]
        check([u["Id"] for u in found] == [user_id], "SearchUsers by exact username")

        listed = [u["Username"] for page in connect.get_paginator("list_users").paginate(InstanceId=instance, PaginationConfig={"PageSize": 1}) for u in page["UserSummaryList"]]
        check(sorted(listed) == ["admin", "boto3user"], "ListUsers pages")

        check(error_code(lambda: create("BOTO3USER")) == "DuplicateResourceException", "duplicate username")
        check(error_code(lambda: create("weakling", Password="password")) == "InvalidParameterException", "password policy")
        check(
            error_code(lambda: connect.describe_user(InstanceId=instance, UserId="no-such-user")) == "ResourceNotFoundException",
            "unknown user",
        )

        connect.update_user_routing_profile(InstanceId=instance, UserId=user_id, RoutingProfileId=routing["Sales Inbound"])
        connect.update_user_security_profiles(InstanceId=instance, UserId=user_id, SecurityProfileIds=[security["Agent"], security["Admin"]])
        user = connect.describe_user(InstanceId=instance, UserId=user_id)["User"]
        check(user["RoutingProfileId"] == routing["Sales Inbound"] and len(user["SecurityProfileIds"]) == 2, "Update* calls")

        # Sent at once, so the check holds however slow the machine is: a sequential loop on a loaded runner can
        # take longer than the refill and never meet the limit.
        with ThreadPoolExecutor(max_workers=12) as pool:
            codes = list(pool.map(lambda n: error_code(lambda: create(f"burst{n}")), range(12)))
        throttled = codes.count("ThrottlingException")
        check(throttled >= 1, f"CreateUser is throttled past its burst (2 req/s, burst 5): {codes}")
        check(set(codes) <= {None, "ThrottlingException"}, f"a burst fails only with throttles: {codes}")
        patient = client(10)
        patient_id = patient.create_user(
            InstanceId=instance,
            Username="patient",
            Password="Passw0rd!",
            IdentityInfo={"FirstName": "Pat", "LastName": "Ient"},
            PhoneConfig={"PhoneType": "SOFT_PHONE"},
            SecurityProfileIds=[security["Agent"]],
            RoutingProfileId=routing["Basic Routing Profile"],
        )["UserId"]
        check(
            connect.describe_user(InstanceId=instance, UserId=patient_id)["User"]["Username"] == "patient",
            "boto3's standard retry gets through the throttle",
        )

        connect.delete_user(InstanceId=instance, UserId=user_id)
        check(
            error_code(lambda: connect.describe_user(InstanceId=instance, UserId=user_id)) == "ResourceNotFoundException",
            "DeleteUser",
        )
        print(f"{checks} passed, 0 failed")
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)


if __name__ == "__main__":
    main()

"""Checks the Salesforce sandbox with plain HTTP calls written from the REST API guide's examples (urllib only).

Usage: python3 rest_salesforce_check.py PATH_TO_ccbulk-sandbox
Prints 'N passed, 0 failed' at the end; exits non-zero on the first mismatch.
"""

import csv
import io
import json
import subprocess
import time
import sys
import urllib.error
import urllib.parse
import urllib.request

checks = 0


def check(condition, what):
    global checks
    if not condition:
        print(f"FAILED: {what}", file=sys.stderr)
        print(f"{checks} passed, 1 failed")
        sys.exit(1)
    checks += 1


def call(method, url, token=None, body=None, form=None, csv_text=None, raw=False):
    headers = {}
    data = None
    if csv_text is not None:
        headers["Content-Type"] = "text/csv"
        data = csv_text.encode()
    if token:
        headers["Authorization"] = "Bearer " + token
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    if form is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request) as response:
            text = response.read().decode()
            if raw:
                return response.status, text, response.headers
            return response.status, (json.loads(text) if text else None), response.headers
    except urllib.error.HTTPError as err:
        text = err.read().decode()
        return err.code, (json.loads(text) if text else None), err.headers


def main():
    sandbox = subprocess.Popen([sys.argv[1]], stdout=subprocess.PIPE, text=True)
    try:
        ready = json.loads(sandbox.stdout.readline())["salesforce"]
        status, body, _ = call(
            "POST",
            ready["login_url"] + "/services/oauth2/token",
            form={"grant_type": "client_credentials", "client_id": ready["client_id"], "client_secret": ready["client_secret"]},
        )
        check(status == 200 and body["token_type"] == "Bearer", "client credentials token")
        token, base = body["access_token"], body["instance_url"] + "/services/data/v62.0"

        status, body, _ = call("POST", ready["login_url"] + "/services/oauth2/token", form={"grant_type": "password"})
        check(status == 400 and body["error"] == "unsupported_grant_type", "an unsupported grant is refused")

        def query(soql):
            return call("GET", base + "/query?q=" + urllib.parse.quote(soql), token)

        status, body, headers = query("SELECT Id, Name FROM Profile WHERE Name = 'Standard User'")
        check(status == 200 and body["totalSize"] == 1 and body["done"] is True, "query a profile")
        check(headers.get("Sforce-Limit-Info", "").startswith("api-usage="), "Sforce-Limit-Info header")
        profile = body["records"][0]["Id"]
        check(body["records"][0]["attributes"]["type"] == "Profile", "records carry attributes")

        user = {
            "Username": "rest.guide@example.com", "Email": "rest.guide@example.com", "LastName": "Guide",
            "Alias": "rguide", "ProfileId": profile, "TimeZoneSidKey": "America/Los_Angeles",
            "LocaleSidKey": "en_US", "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US",
        }
        status, body, _ = call("POST", base + "/sobjects/User/", token, user)
        check(status == 201 and body["success"] is True and body["id"].startswith("005"), "create a User")
        user_id = body["id"]
        status, body, _ = call("POST", base + "/sobjects/User/", token, user)
        check(status == 400 and body[0]["errorCode"] == "DUPLICATE_USERNAME", "duplicate username")

        # A restricted picklist refuses a value off its list, naming the field (REST API guide, status codes).
        off_list = dict(user, Username="picklist@example.com", TimeZoneSidKey="PST")
        status, body, _ = call("POST", base + "/sobjects/User/", token, off_list)
        check(status == 400 and body[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
              and body[0]["fields"] == ["TimeZoneSidKey"], "restricted picklist")

        # A contact center takes a user who holds a contact-center permission set (the order Salesforce's setup
        # follows): refused before the assignment, taken after it.
        status, body, _ = query("SELECT Id FROM CallCenter WHERE Name = 'Northwind Support'")
        center = body["records"][0]["Id"]
        status, body, _ = call("PATCH", base + "/sobjects/User/" + user_id, token, {"CallCenterId": center})
        check(status == 400 and body[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION", "no member without a set")

        status, body, _ = query("SELECT Id FROM PermissionSet WHERE Name = 'ContactCenterAgent'")
        permission_set = body["records"][0]["Id"]
        records = {"allOrNone": False, "records": [
            {"attributes": {"type": "PermissionSetAssignment"}, "AssigneeId": user_id, "PermissionSetId": permission_set},
            {"attributes": {"type": "PermissionSetAssignment"}, "AssigneeId": user_id, "PermissionSetId": permission_set},
        ]}
        status, body, _ = call("POST", base + "/composite/sobjects", token, records)
        check(status == 200 and body[0]["success"] is True, "sObject Collections create")
        check(body[1]["errors"][0]["statusCode"] == "DUPLICATE_VALUE", "collections report per record with statusCode")

        status, _, _ = call("PATCH", base + "/sobjects/User/" + user_id, token, {"CallCenterId": center})
        check(status == 204, "PATCH a User")
        status, body, _ = call("GET", base + "/sobjects/User/" + user_id, token)
        check(body["CallCenterId"] == center, "GET the User back")

        # Bulk API 2.0 as the guide's walkthrough drives it (Step 3: Bulk Insert): create, upload, close, poll, results.
        status, job, _ = call("POST", base + "/jobs/ingest/", token,
                              {"object": "ContactCenterBulkOp", "contentType": "CSV", "operation": "insert",
                               "lineEnding": "LF"})
        check(status == 200 and job["state"] == "Open" and job["id"].startswith("750"), "create an ingest job")
        job_url = base + "/jobs/ingest/" + job["id"]
        data = "Argument1,Argument2,Argument5,BulkAction\nrest.guide@example.com,%s,%s,AddUsers\n,%s,%s,AddUsers\n" % (
            user_id, center, user_id, center)
        status, _, _ = call("PUT", job_url + "/batches/", token, csv_text=data)
        check(status == 201, "upload job data")
        status, body, _ = call("PATCH", job_url + "/", token, {"state": "UploadComplete"})
        check(status == 200 and body["state"] == "UploadComplete", "upload complete")
        for _ in range(500):
            status, body, _ = call("GET", job_url + "/", token)
            if body["state"] in ("JobComplete", "Failed", "Aborted"):
                break
            time.sleep(0.02)
        check(body["state"] == "JobComplete" and body["numberRecordsProcessed"] == 2
              and body["numberRecordsFailed"] == 1 and body["jobType"] == "V2Ingest", "job info once complete")
        status, text, _ = call("GET", job_url + "/successfulResults/", token, raw=True)
        rows = list(csv.reader(io.StringIO(text)))
        check(rows[0][:2] == ["sf__Id", "sf__Created"] and len(rows) == 2 and rows[1][1] == "true", "successful results")
        status, text, _ = call("GET", job_url + "/failedResults/", token, raw=True)
        rows = list(csv.reader(io.StringIO(text)))
        check(rows[0][:2] == ["sf__Id", "sf__Error"] and rows[1][1].startswith("REQUIRED_FIELD_MISSING"), "failed results")

        status, body, _ = call("GET", base + "/query?q=" + urllib.parse.quote("SELEC Id FROM User"), token)
        check(status == 400 and body[0]["errorCode"] == "MALFORMED_QUERY", "malformed query")
        status, body, _ = call("GET", base + "/query?q=SELECT+Id+FROM+User", "00D!not-a-session")
        check(status == 401 and body[0]["errorCode"] == "INVALID_SESSION_ID", "invalid session")
        print(f"{checks} passed, 0 failed")
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)


if __name__ == "__main__":
    main()

"""boto3, raw HTTP and the AWS CLI against a running shoal-router gateway.

Run by tools/tests/e2e/gateway.rs against a real local cluster (shoal up); it sets
SHOAL_GATEWAY_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and SHOAL_AWS_CLI. Every test
uses its own tables, so the tests are independent; every network call has a timeout.
Covers dynamodb-semantics.md section 3 (HTTP protocol, SigV4) and section 4 (errors) for
the operations the gateway serves.
"""

import base64
import datetime
import gzip
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import unittest
import urllib.parse
import uuid
import zlib

import boto3
import botocore.config
from botocore.exceptions import ClientError

URL = os.environ["SHOAL_GATEWAY_URL"]
KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]
SECRET = os.environ["AWS_SECRET_ACCESS_KEY"]
REGION = "us-east-1"
CONFIG = botocore.config.Config(
    connect_timeout=5, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"}
)


def client(key_id=KEY_ID, secret=SECRET):
    return boto3.client(
        "dynamodb",
        endpoint_url=URL,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=CONFIG,
    )


def table_name(label):
    return f"{label}-{uuid.uuid4().hex[:8]}"


def create_table(db, name, sort_type=None):
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    definitions = [{"AttributeName": "pk", "AttributeType": "S"}]
    if sort_type:
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        definitions.append({"AttributeName": "sk", "AttributeType": sort_type})
    answer = db.create_table(
        TableName=name,
        KeySchema=keys,
        AttributeDefinitions=definitions,
        BillingMode="PAY_PER_REQUEST",
    )
    db.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    return answer


def error_of(call, *args, **kwargs):
    """The (code, message, response) of a call that must fail."""
    try:
        call(*args, **kwargs)
    except ClientError as error:
        e = error.response["Error"]
        return e["Code"], e.get("Message", ""), error.response
    raise AssertionError(f"{call} succeeded but should have failed")


# --- raw HTTP with our own SigV4 signer (to choose dates and break signatures) ---


def sign(body, target, amz_date, key_id=KEY_ID, secret=SECRET, host=None):
    host = host or urllib.parse.urlparse(URL).netloc
    date = amz_date[:8]
    headers = {
        "host": host,
        "x-amz-date": amz_date,
        "x-amz-target": target,
        "content-type": "application/x-amz-json-1.0",
    }
    signed = sorted(headers)
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            "".join(f"{h}:{headers[h]}\n" for h in signed),
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{REGION}/dynamodb/aws4_request"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + secret).encode()
    for part in [date, REGION, "dynamodb", "aws4_request"]:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    return headers


def now_amz(offset_s=0):
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
        seconds=offset_s
    )
    return moment.strftime("%Y%m%dT%H%M%SZ")


def raw(body, headers, method="POST"):
    """Sends one request; returns (status, headers, body bytes)."""
    parts = urllib.parse.urlparse(URL)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, "/", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def signed_raw(operation, body, **kwargs):
    if isinstance(body, str):
        body = body.encode()
    headers = sign(body, f"DynamoDB_20120810.{operation}", now_amz(), **kwargs)
    return raw(body, headers)


def error_type(body):
    document = json.loads(body)
    return document["__type"].split("#")[-1], document.get("message", "")


class Tables(unittest.TestCase):
    def test_create_describe_list_update_delete(self):
        db = client()
        name = table_name("tables")
        created = create_table(db, name, sort_type="N")["TableDescription"]
        self.assertEqual(created["TableName"], name)
        self.assertEqual(
            created["KeySchema"],
            [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
        table = db.describe_table(TableName=name)["Table"]
        self.assertEqual(table["TableStatus"], "ACTIVE")
        self.assertEqual(table["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST")
        self.assertIn("CreationDateTime", table)
        names = [
            n
            for page in db.get_paginator("list_tables").paginate(
                PaginationConfig={"PageSize": 1}
            )
            for n in page["TableNames"]
        ]
        self.assertIn(name, names)
        updated = db.update_table(
            TableName=name,
            BillingMode="PROVISIONED",
            ProvisionedThroughput={"ReadCapacityUnits": 7, "WriteCapacityUnits": 3},
        )["TableDescription"]
        self.assertEqual(updated["ProvisionedThroughput"]["ReadCapacityUnits"], 7)
        code, message, _ = error_of(
            db.create_table,
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.assertEqual(code, "ResourceInUseException")
        self.assertIn(name, message)
        db.delete_table(TableName=name)
        db.get_waiter("table_not_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
        code, message, _ = error_of(db.describe_table, TableName=name)
        self.assertEqual(code, "ResourceNotFoundException")
        self.assertIn("Requested resource not found", message)


class Items(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = client()
        cls.table = table_name("items")
        create_table(cls.db, cls.table, sort_type="N")

    def test_put_get_update_delete_with_every_type(self):
        db, table = self.db, self.table
        key = {"pk": {"S": "all"}, "sk": {"N": "1"}}
        item = dict(
            key,
            n={"N": "12345678901234567890123456789012345678"},
            small={"N": "-1e-130"},
            b={"B": b"\x00\x01\xff"},
            t={"BOOL": True},
            z={"NULL": True},
            m={"M": {"deep": {"L": [{"S": "x"}, {"N": "2"}]}}},
            ss={"SS": ["a", "b"]},
            ns={"NS": ["1", "2.5"]},
            bs={"BS": [b"a", b"b"]},
            s={"S": "unicode \u00e9\u4e2d\U0001f600 \"quoted\" \\ back"},
        )
        answer = db.put_item(TableName=table, Item=item)
        self.assertNotIn("Attributes", answer)
        got = db.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        self.assertEqual(got["n"], {"N": "12345678901234567890123456789012345678"})
        self.assertEqual(got["b"], {"B": b"\x00\x01\xff"})
        self.assertEqual(got["s"], item["s"])
        self.assertEqual(sorted(got["ns"]["NS"]), ["1", "2.5"])
        self.assertEqual(got["m"], item["m"])
        projected = db.get_item(
            TableName=table,
            Key=key,
            ProjectionExpression="#t, m.deep[1]",
            ExpressionAttributeNames={"#t": "t"},
        )["Item"]
        self.assertEqual(projected, {"t": {"BOOL": True}, "m": {"M": {"deep": {"L": [{"N": "2"}]}}}})
        updated = db.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET c = if_not_exists(c, :zero) + :one REMOVE z",
            ExpressionAttributeValues={":zero": {"N": "0"}, ":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        self.assertEqual(updated["Attributes"], {"c": {"N": "1"}})
        old = db.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="ADD c :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_OLD",
        )["Attributes"]
        self.assertEqual(old["c"], {"N": "1"})
        self.assertNotIn("z", old)
        deleted = db.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD")
        self.assertEqual(deleted["Attributes"]["c"], {"N": "2"})
        self.assertNotIn("Item", db.get_item(TableName=table, Key=key))
        capacity = db.put_item(
            TableName=table, Item=key, ReturnConsumedCapacity="TOTAL"
        )["ConsumedCapacity"]
        self.assertEqual(capacity["TableName"], table)
        self.assertGreater(capacity["CapacityUnits"], 0)

    def test_conditional_writes_fail_with_dynamodb_errors(self):
        db, table = self.db, self.table
        key = {"pk": {"S": "cond"}, "sk": {"N": "1"}}
        db.put_item(TableName=table, Item=dict(key, v={"S": "first"}))
        code, message, response = error_of(
            db.put_item,
            TableName=table,
            Item=dict(key, v={"S": "second"}),
            ConditionExpression="attribute_not_exists(pk)",
        )
        self.assertEqual(code, "ConditionalCheckFailedException")
        self.assertEqual(message, "The conditional request failed")
        self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertNotIn("Item", response)
        code, _, response = error_of(
            db.update_item,
            TableName=table,
            Key=key,
            UpdateExpression="SET v = :new",
            ConditionExpression="v = :expected",
            ExpressionAttributeValues={":new": {"S": "x"}, ":expected": {"S": "nope"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        self.assertEqual(code, "ConditionalCheckFailedException")
        self.assertEqual(response["Item"]["v"], {"S": "first"})
        code, _, _ = error_of(
            db.delete_item,
            TableName=table,
            Key=key,
            ConditionExpression="attribute_not_exists(v)",
        )
        self.assertEqual(code, "ConditionalCheckFailedException")
        legacy = error_of(
            db.put_item,
            TableName=table,
            Item=key,
            Expected={"v": {"Value": {"S": "other"}}},
        )
        self.assertEqual(legacy[0], "ConditionalCheckFailedException")
        got = db.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        self.assertEqual(got["v"], {"S": "first"})

    def test_query_paginator_pages_in_sort_order(self):
        db, table = self.db, self.table
        for i in range(23):
            db.put_item(
                TableName=table,
                Item={"pk": {"S": "q"}, "sk": {"N": str(i)}, "even": {"BOOL": i % 2 == 0}},
            )
        pages = list(
            db.get_paginator("query").paginate(
                TableName=table,
                KeyConditionExpression="pk = :p AND sk >= :low",
                ExpressionAttributeValues={":p": {"S": "q"}, ":low": {"N": "3"}},
                PaginationConfig={"PageSize": 6},
            )
        )
        self.assertEqual(len(pages), 4)
        keys = [int(item["sk"]["N"]) for page in pages for item in page["Items"]]
        self.assertEqual(keys, list(range(3, 23)))
        backwards = db.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            FilterExpression="even = :t",
            ExpressionAttributeValues={":p": {"S": "q"}, ":t": {"BOOL": True}},
            ScanIndexForward=False,
            Limit=5,
        )
        self.assertEqual([i["sk"]["N"] for i in backwards["Items"]], ["22", "20", "18"])
        self.assertEqual(backwards["ScannedCount"], 5)
        self.assertEqual(backwards["LastEvaluatedKey"], {"pk": {"S": "q"}, "sk": {"N": "18"}})
        count = db.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "q"}},
            Select="COUNT",
        )
        self.assertEqual(count["Count"], 23)
        self.assertNotIn("Items", count)

    def test_scan_paginator_and_segments_see_every_item_once(self):
        db = self.db
        table = table_name("scan")
        create_table(db, table)
        expected = {f"k{i:03}" for i in range(41)}
        for k in expected:
            db.put_item(TableName=table, Item={"pk": {"S": k}, "v": {"N": "1"}})
        seen = [
            item["pk"]["S"]
            for page in db.get_paginator("scan").paginate(
                TableName=table, PaginationConfig={"PageSize": 7}
            )
            for item in page["Items"]
        ]
        self.assertEqual(len(seen), len(expected))
        self.assertEqual(set(seen), expected)
        segments = []
        for segment in range(3):
            for page in db.get_paginator("scan").paginate(
                TableName=table, Segment=segment, TotalSegments=3
            ):
                segments += [item["pk"]["S"] for item in page["Items"]]
        self.assertEqual(sorted(segments), sorted(expected))

    def test_batch_write_and_batch_get(self):
        db = self.db
        table = table_name("batch")
        create_table(db, table)
        puts = [
            {"PutRequest": {"Item": {"pk": {"S": f"b{i}"}, "v": {"N": str(i)}}}}
            for i in range(25)
        ]
        answer = db.batch_write_item(RequestItems={table: puts})
        self.assertEqual(answer["UnprocessedItems"], {})
        answer = db.batch_write_item(
            RequestItems={
                table: [{"DeleteRequest": {"Key": {"pk": {"S": f"b{i}"}}}} for i in range(5)]
            }
        )
        self.assertEqual(answer["UnprocessedItems"], {})
        keys = [{"pk": {"S": f"b{i}"}} for i in range(0, 25, 2)]
        got = db.batch_get_item(
            RequestItems={table: {"Keys": keys, "ConsistentRead": True}}
        )
        self.assertEqual(got["UnprocessedKeys"], {})
        values = sorted(int(i["v"]["N"]) for i in got["Responses"][table])
        self.assertEqual(values, list(range(6, 25, 2)))
        code, message, _ = error_of(
            db.batch_write_item,
            RequestItems={
                table: [
                    {"PutRequest": {"Item": {"pk": {"S": f"x{i}"}}}} for i in range(26)
                ]
            },
        )
        self.assertEqual(code, "ValidationException")
        self.assertIn("25", message)


class Errors(unittest.TestCase):
    """Error types and messages of dynamodb-semantics.md section 4 for invalid requests."""

    @classmethod
    def setUpClass(cls):
        cls.db = client()
        cls.table = table_name("errors")
        create_table(cls.db, cls.table)

    def check(self, expected_code, fragment, call, **kwargs):
        code, message, response = error_of(call, **kwargs)
        self.assertEqual(code, expected_code, message)
        self.assertIn(fragment, message)
        self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def test_validation_messages(self):
        db, table = self.db, self.table
        self.check(
            "ValidationException",
            "Member must have length greater than or equal to 3",
            db.describe_table,
            TableName="ab",
        )
        self.check(
            "ResourceNotFoundException",
            "Requested resource not found",
            db.get_item,
            TableName="no-such-table",
            Key={"pk": {"S": "x"}},
        )
        self.check(
            "ValidationException",
            "The provided key element does not match the schema",
            db.get_item,
            TableName=table,
            Key={"other": {"S": "x"}},
        )
        self.check(
            "ValidationException",
            "unused",
            db.put_item,
            TableName=table,
            Item={"pk": {"S": "x"}},
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeValues={":unused": {"S": "x"}},
        )
        self.check(
            "ValidationException",
            "Syntax error",
            db.update_item,
            TableName=table,
            Key={"pk": {"S": "x"}},
            UpdateExpression="SET = 1",
        )
        self.check(
            "ValidationException",
            "numeric",
            db.put_item,
            TableName=table,
            Item={"pk": {"S": "x"}, "n": {"N": "not a number"}},
        )
        self.check(
            "ValidationException",
            "Member must satisfy enum value set",
            db.put_item,
            TableName=table,
            Item={"pk": {"S": "x"}},
            ReturnValues="EVERYTHING",
        )
        self.check(
            "ValidationException",
            "Can not use both expression and non-expression parameters",
            db.get_item,
            TableName=table,
            Key={"pk": {"S": "x"}},
            ProjectionExpression="a",
            AttributesToGet=["a"],
        )
        self.check(
            "ValidationException",
            "not supported yet",
            db.transact_write_items,
            TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": "x"}}}}],
        )

    def test_protocol_errors(self):
        status, headers, body = signed_raw("GetItem", "{not json")
        self.assertEqual(status, 400)
        self.assertEqual(error_type(body)[0], "SerializationException")
        status, _, body = signed_raw("NoSuchOperation", "{}")
        self.assertEqual(status, 400)
        self.assertEqual(error_type(body)[0], "UnknownOperationException")
        self.assertTrue(json.loads(body)["__type"].startswith("com.amazon.coral.service#"))
        status, _, body = signed_raw("GetItem", json.dumps({"TableName": 5, "Key": {}}))
        self.assertEqual(error_type(body)[0], "SerializationException")
        status, _, body = signed_raw(
            "PutItem", json.dumps({"TableName": self.table, "Item": {"pk": {"N": 5}}})
        )
        self.assertEqual(error_type(body)[0], "SerializationException")
        status, _, body = signed_raw(
            "PutItem", json.dumps({"TableName": self.table, "Item": {"pk": {"B": "!!"}}})
        )
        self.assertEqual(error_type(body)[0], "SerializationException")
        deep = "[" * 10000 + "]" * 10000
        status, _, body = signed_raw("GetItem", deep)
        self.assertEqual(status, 400)
        self.assertEqual(error_type(body)[0], "SerializationException")
        status, _, body = signed_raw("GetItem", json.dumps({"Key": {"pk": {"S": "x"}}}))
        kind, message = error_type(body)
        self.assertEqual(kind, "ValidationException")
        self.assertIn("Value null at 'tableName'", message)

    def test_headers_crc_and_request_id(self):
        body = json.dumps({"TableName": self.table, "Key": {"pk": {"S": "none"}}})
        status, headers, answer = signed_raw("GetItem", body)
        self.assertEqual(status, 200)
        self.assertEqual(answer, b"{}")
        headers = {k.lower(): v for k, v in headers.items()}
        self.assertEqual(headers["content-type"], "application/x-amz-json-1.0")
        self.assertEqual(int(headers["x-amz-crc32"]), zlib.crc32(answer))
        self.assertTrue(headers["x-amzn-requestid"])
        _, error_headers, error_body = signed_raw("Nope", "{}")
        error_headers = {k.lower(): v for k, v in error_headers.items()}
        self.assertEqual(int(error_headers["x-amz-crc32"]), zlib.crc32(error_body))
        self.assertNotEqual(error_headers["x-amzn-requestid"], headers["x-amzn-requestid"])

    def test_gzip_body_and_size_limit(self):
        body = gzip.compress(
            json.dumps({"TableName": self.table, "Key": {"pk": {"S": "none"}}}).encode()
        )
        headers = sign(body, "DynamoDB_20120810.GetItem", now_amz())
        headers["content-encoding"] = "gzip"
        status, _, answer = raw(body, headers)
        self.assertEqual((status, answer), (200, b"{}"))
        # A declared length over 16 MB is refused before the body is read.
        parts = urllib.parse.urlparse(URL)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            connection.putrequest("POST", "/")
            connection.putheader("Content-Length", str(16 * 1024 * 1024 + 1))
            connection.putheader("X-Amz-Target", "DynamoDB_20120810.GetItem")
            connection.endheaders(b"{")
            self.assertEqual(connection.getresponse().status, 413)
        finally:
            connection.close()
        status, _, _ = raw(b"", {}, method="GET")
        self.assertEqual(status, 200)
        # Request line and headers are limited to 16 KB.
        status, _, _ = raw(b"{}", {"X-Padding": "p" * (20 * 1024)})
        self.assertEqual(status, 431)

    def test_gateway_keeps_serving_after_bad_input(self):
        for bad in [b"\xff\xfe", b"null", b"[]", b'{"TableName":', b"\x00" * 100]:
            status, _, _ = signed_raw("PutItem", bad)
            self.assertEqual(status, 400)
        self.assertIn("TableNames", self.db.list_tables())


class Signatures(unittest.TestCase):
    """SigV4 failures (dynamodb-semantics.md section 3.4)."""

    def test_wrong_secret(self):
        code, message, _ = error_of(client(secret=SECRET + "x").list_tables)
        self.assertEqual(code, "InvalidSignatureException")
        self.assertIn("The request signature we calculated does not match", message)

    def test_unknown_access_key(self):
        code, _, _ = error_of(client(key_id="AKNOBODY").list_tables)
        self.assertEqual(code, "UnrecognizedClientException")

    def test_missing_authorization(self):
        headers = sign(b"{}", "DynamoDB_20120810.ListTables", now_amz())
        del headers["authorization"]
        status, _, body = raw(b"{}", headers)
        self.assertEqual(status, 400)
        self.assertEqual(error_type(body)[0], "MissingAuthenticationTokenException")

    def test_expired_and_future_dates(self):
        status, _, body = raw(
            b"{}", sign(b"{}", "DynamoDB_20120810.ListTables", now_amz(-20 * 60))
        )
        kind, message = error_type(body)
        self.assertEqual((status, kind), (400, "InvalidSignatureException"))
        self.assertIn("Signature expired", message)
        _, _, body = raw(b"{}", sign(b"{}", "DynamoDB_20120810.ListTables", now_amz(20 * 60)))
        kind, message = error_type(body)
        self.assertEqual(kind, "InvalidSignatureException")
        self.assertIn("Signature not yet current", message)
        # The date is checked before the access key (section 3.4 step 4).
        stale = sign(
            b"{}", "DynamoDB_20120810.ListTables", "20170101T000000Z", key_id="AKBOGUS"
        )
        kind, message = error_type(raw(b"{}", stale)[2])
        self.assertEqual(kind, "InvalidSignatureException")
        self.assertIn("Signature expired", message)
        within = raw(b"{}", sign(b"{}", "DynamoDB_20120810.ListTables", now_amz(-10 * 60)))
        self.assertEqual(within[0], 200)

    def test_tampered_body(self):
        headers = sign(b'{"Limit":1}', "DynamoDB_20120810.ListTables", now_amz())
        status, _, body = raw(b'{"Limit":2}', headers)
        self.assertEqual((status, error_type(body)[0]), (400, "InvalidSignatureException"))


class AwsCli(unittest.TestCase):
    def aws(self, *args):
        command = [os.environ.get("SHOAL_AWS_CLI", "aws"), "dynamodb", *args]
        command += ["--endpoint-url", URL, "--region", REGION, "--output", "json"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        self.assertEqual(done.returncode, 0, f"{command}: {done.stderr}")
        return json.loads(done.stdout) if done.stdout.strip() else {}

    def test_create_put_query_round_trip(self):
        name = table_name("cli")
        created = self.aws(
            "create-table",
            "--table-name", name,
            "--attribute-definitions",
            "AttributeName=pk,AttributeType=S", "AttributeName=sk,AttributeType=N",
            "--key-schema", "AttributeName=pk,KeyType=HASH", "AttributeName=sk,KeyType=RANGE",
            "--billing-mode", "PAY_PER_REQUEST",
        )
        self.assertEqual(created["TableDescription"]["TableName"], name)
        self.aws("wait", "table-exists", "--table-name", name)
        for sk in ["2", "1"]:
            self.aws(
                "put-item", "--table-name", name,
                "--item", json.dumps({"pk": {"S": "cli"}, "sk": {"N": sk}, "v": {"S": "hi" + sk}}),
            )
        answer = self.aws(
            "query", "--table-name", name,
            "--key-condition-expression", "pk = :p",
            "--expression-attribute-values", json.dumps({":p": {"S": "cli"}}),
        )
        self.assertEqual(answer["Count"], 2)
        self.assertEqual([i["v"]["S"] for i in answer["Items"]], ["hi1", "hi2"])
        listed = self.aws("list-tables")
        self.assertIn(name, listed["TableNames"])


if __name__ == "__main__":
    unittest.main()

import assert from "node:assert/strict";
import { test } from "node:test";
import { QueryParams } from "../../src/api/aws-query/params.js";
import { element, escapeXml, toXml } from "../../src/api/aws-query/xml.js";

test("QueryParams reads nested member lists and structures", () => {
  const p = QueryParams.parse(
    "Listeners.member.2.Protocol=TCP&Listeners.member.1.Protocol=HTTP&Listeners.member.10.Protocol=SSL" +
      "&HealthCheck.Target=TCP%3A80&Instances.member.1.InstanceId=i-1&AvailabilityZones.member.2=b&AvailabilityZones.member.1=a&Empty=",
  );
  assert.deepEqual(
    p.structs("Listeners")?.map((l) => l.string("Protocol")),
    ["HTTP", "TCP", "SSL"],
  );
  assert.equal(p.struct("HealthCheck")?.string("Target"), "TCP:80");
  assert.equal(p.struct("Nope"), undefined);
  assert.deepEqual(p.strings("AvailabilityZones"), ["a", "b"]);
  assert.deepEqual(p.strings("Empty"), [], "an empty list is sent as Name=");
  assert.equal(p.strings("Missing"), undefined);
  assert.equal(p.structs("Instances")?.[0]?.string("InstanceId"), "i-1");
});

test("XML serialisation", () => {
  assert.equal(escapeXml(`<a href="x">&'\u0001</a>`), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
  assert.equal(element("L", ["a", "b"]), "<L><member>a</member><member>b</member></L>");
  assert.equal(element("L", []), "<L/>");
  assert.equal(
    toXml({ A: 1, B: undefined, C: true, D: new Date(0) }),
    "<A>1</A><C>true</C><D>1970-01-01T00:00:00.000Z</D>",
  );
});

/** CreateLoadBalancerListeners, DeleteLoadBalancerListeners, SetLoadBalancerListenerSSLCertificate and HTTPS CreateLoadBalancer, through the AWS SDK. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  CreateLoadBalancerCommand,
  CreateLoadBalancerListenersCommand,
  DeleteLoadBalancerListenersCommand,
  DescribeLoadBalancersCommand,
  type ElasticLoadBalancingClient,
  type Listener,
  SetLoadBalancerListenerSSLCertificateCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { validateCertificateUpload } from "../../src/model/certificates.js";
import { selfSignedCert } from "../support/certs.js";
import { READER_KEY, sdkError, startTestServer, type TestServer } from "./support.js";

const META = { principal: "test", sourceIp: "127.0.0.1", requestId: "seed", action: "PutCertificate" };
const ACM_UNKNOWN = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012";

const http = (port: number, instancePort = 8080): Listener => ({
  Protocol: "HTTP",
  LoadBalancerPort: port,
  InstancePort: instancePort,
});
const https = (port: number, cert: string, instanceProtocol = "HTTP", instancePort = 8080): Listener => ({
  Protocol: "HTTPS",
  LoadBalancerPort: port,
  InstanceProtocol: instanceProtocol,
  InstancePort: instancePort,
  SSLCertificateId: cert,
});

describe("listeners through the AWS SDK", () => {
  let server: TestServer;
  let elb: ElasticLoadBalancingClient;
  let arnA: string;
  let arnB: string;

  before(async () => {
    server = await startTestServer();
    elb = server.client();
    const a = selfSignedCert("a.example.test");
    const b = selfSignedCert("b.example.test");
    const T = "2026-01-01T00:00:00.000Z";
    const certA = validateCertificateUpload(
      { name: "cert-a", certificateBody: a.cert, privateKey: a.key },
      T,
    );
    const certB = validateCertificateUpload(
      { name: "cert-b", certificateBody: b.cert, privateKey: b.key },
      T,
    );
    arnA = certA.arn;
    arnB = certB.arn;
    await server.store.mutate(META, async (tx) => {
      tx.put("certificate", certA.arn, certA);
      tx.put("certificate", certB.arn, certB);
    });
  });
  after(async () => {
    await server.close();
  });

  async function rejects(fn: () => Promise<unknown>, code: string, status = 400): Promise<string> {
    const head = await server.store.head();
    const err = await sdkError(fn);
    assert.equal(err.code, code, err.message);
    assert.equal(err.status, status);
    assert.equal(await server.store.head(), head, "a rejected call must not append a revision");
    return err.message;
  }

  async function create(name: string, listeners: Listener[] = [http(80)]): Promise<void> {
    await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: name,
        Listeners: listeners,
        AvailabilityZones: ["us-east-1a"],
      }),
    );
  }

  async function listenersOf(name: string): Promise<Listener[]> {
    const out = await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: [name] }));
    return (out.LoadBalancerDescriptions?.[0]?.ListenerDescriptions ?? []).map(
      (d) => d.Listener ?? ({} as Listener),
    );
  }

  test("CreateLoadBalancer with an HTTPS listener on a stored certificate", async () => {
    await create("secure", [https(443, arnA)]);
    const [l] = await listenersOf("secure");
    assert.equal(l?.Protocol, "HTTPS");
    assert.equal(l?.SSLCertificateId, arnA);
    const stored = (await server.store.get("loadBalancer", "secure"))?.doc;
    assert.equal(stored?.listeners[0]?.sslCertificateId, arnA);
  });

  test("CreateLoadBalancer: a certificate not in the store is CertificateNotFound", async () => {
    const send = (cert: string) => () =>
      elb.send(
        new CreateLoadBalancerCommand({
          LoadBalancerName: "nocert",
          Listeners: [https(443, cert)],
          AvailabilityZones: ["us-east-1a"],
        }),
      );
    assert.match(await rejects(send(ACM_UNKNOWN), "CertificateNotFound"), /SSL certificate/);
    await rejects(send("arn:aws:iam::000000000000:server-certificate/missing"), "CertificateNotFound");
    await rejects(send("not-an-arn"), "CertificateNotFound");
    // The same name under another account is another certificate.
    await rejects(send(arnA.replace("000000000000", "123456789012")), "CertificateNotFound");
    assert.equal(await server.store.get("loadBalancer", "nocert"), undefined);
  });

  test("CreateLoadBalancerListeners adds HTTP and HTTPS listeners in one revision", async () => {
    await create("grow");
    const head = await server.store.head();
    await elb.send(
      new CreateLoadBalancerListenersCommand({
        LoadBalancerName: "grow",
        Listeners: [
          http(8000, 8000),
          https(443, arnA),
          { ...https(8443, arnB), Protocol: "ssl", InstanceProtocol: "tcp" },
        ],
      }),
    );
    assert.equal(await server.store.head(), head + 1);
    const got = await listenersOf("grow");
    assert.deepEqual(
      got.map((l) => [
        l.Protocol,
        l.LoadBalancerPort,
        l.InstanceProtocol,
        l.InstancePort,
        l.SSLCertificateId,
      ]),
      [
        ["HTTP", 80, "HTTP", 8080, undefined],
        ["HTTP", 8000, "HTTP", 8000, undefined],
        ["HTTPS", 443, "HTTP", 8080, arnA],
        ["SSL", 8443, "TCP", 8080, arnB],
      ],
    );
  });

  test("CreateLoadBalancerListeners: the same listener again changes nothing, a different one is DuplicateListener", async () => {
    await create("dup");
    const head = await server.store.head();
    await elb.send(
      new CreateLoadBalancerListenersCommand({ LoadBalancerName: "dup", Listeners: [http(80)] }),
    );
    assert.equal(await server.store.head(), head);
    const send = (l: Listener) => () =>
      elb.send(new CreateLoadBalancerListenersCommand({ LoadBalancerName: "dup", Listeners: [l] }));
    await rejects(send(http(80, 9090)), "DuplicateListener");
    await rejects(send(https(80, arnA)), "DuplicateListener");
    // Two listeners on one port in one request.
    await rejects(
      () =>
        elb.send(
          new CreateLoadBalancerListenersCommand({
            LoadBalancerName: "dup",
            Listeners: [http(81), http(81, 9)],
          }),
        ),
      "DuplicateListener",
    );
  });

  test("CreateLoadBalancerListeners rejects with the model's codes and changes nothing", async () => {
    await create("strict");
    const send =
      (listeners: Listener[], name = "strict") =>
      () =>
        elb.send(new CreateLoadBalancerListenersCommand({ LoadBalancerName: name, Listeners: listeners }));
    await rejects(send([http(81)], "nope"), "LoadBalancerNotFound");
    await rejects(send([https(443, ACM_UNKNOWN)]), "CertificateNotFound");
    // A good listener beside a bad one: nothing is added.
    await rejects(
      send([http(82), https(443, "arn:aws:iam::000000000000:server-certificate/x")]),
      "CertificateNotFound",
    );
    // An encrypted and an unencrypted back-end connection on one instance port.
    await rejects(send([https(443, arnA, "HTTPS", 8080)]), "InvalidConfigurationRequest", 409);
    await rejects(
      send([{ Protocol: "HTTPS", LoadBalancerPort: 443, InstancePort: 8443 }]),
      "ValidationError",
    );
    await rejects(send([{ Protocol: "FTP", LoadBalancerPort: 21, InstancePort: 21 }]), "ValidationError");
    await rejects(send([http(0)]), "ValidationError");
    await rejects(send([]), "ValidationError");
    assert.equal((await listenersOf("strict")).length, 1);
  });

  test("DeleteLoadBalancerListeners removes listeners; a port without one succeeds", async () => {
    await create("shrink", [http(80), http(81), https(443, arnA)]);
    await elb.send(
      new DeleteLoadBalancerListenersCommand({ LoadBalancerName: "shrink", LoadBalancerPorts: [81, 443] }),
    );
    assert.deepEqual(
      (await listenersOf("shrink")).map((l) => l.LoadBalancerPort),
      [80],
    );
    const head = await server.store.head();
    await elb.send(
      new DeleteLoadBalancerListenersCommand({ LoadBalancerName: "shrink", LoadBalancerPorts: [9999] }),
    );
    assert.equal(await server.store.head(), head, "deleting nothing appends no revision");
    await rejects(
      () =>
        elb.send(
          new DeleteLoadBalancerListenersCommand({ LoadBalancerName: "nope", LoadBalancerPorts: [80] }),
        ),
      "LoadBalancerNotFound",
    );
    await rejects(
      () =>
        elb.send(
          new DeleteLoadBalancerListenersCommand({
            LoadBalancerName: "shrink",
            LoadBalancerPorts: undefined,
          }),
        ),
      "ValidationError",
    );
  });

  test("SetLoadBalancerListenerSSLCertificate replaces the certificate of an HTTPS listener", async () => {
    await create("rotate", [http(80), https(443, arnA)]);
    await elb.send(
      new SetLoadBalancerListenerSSLCertificateCommand({
        LoadBalancerName: "rotate",
        LoadBalancerPort: 443,
        SSLCertificateId: arnB,
      }),
    );
    assert.equal(
      (await listenersOf("rotate")).find((l) => l.LoadBalancerPort === 443)?.SSLCertificateId,
      arnB,
    );
    const rev = await server.store.revision(await server.store.head());
    assert.equal(rev?.action, "SetLoadBalancerListenerSSLCertificate");
  });

  test("SetLoadBalancerListenerSSLCertificate errors", async () => {
    await create("certerr", [http(80), https(443, arnA)]);
    const send =
      (port: number, cert: string, name = "certerr") =>
      () =>
        elb.send(
          new SetLoadBalancerListenerSSLCertificateCommand({
            LoadBalancerName: name,
            LoadBalancerPort: port,
            SSLCertificateId: cert,
          }),
        );
    await rejects(send(443, arnB, "nope"), "LoadBalancerNotFound");
    await rejects(send(8443, arnB), "ListenerNotFound");
    assert.match(await rejects(send(80, arnB), "InvalidConfigurationRequest", 409), /HTTPS and SSL/);
    await rejects(send(443, ACM_UNKNOWN), "CertificateNotFound");
    await rejects(send(443, "garbage"), "CertificateNotFound");
  });

  test("a reader may not change listeners", async () => {
    await create("ro");
    const reader = server.client(READER_KEY);
    await rejects(
      () =>
        reader.send(
          new CreateLoadBalancerListenersCommand({ LoadBalancerName: "ro", Listeners: [http(81)] }),
        ),
      "AccessDenied",
      403,
    );
  });
});

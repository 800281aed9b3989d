/** `ballast instances|subnets|limits|certs`: the inventories the ELB API draws on. */
import { defineCommand } from "../command.js";
import { CLIENT_FLAGS, CLIENT_JSON, JSON_FLAG } from "./common.js";

export const INSTANCES = defineCommand({
  name: "instances",
  summary: "The instance inventory: each instance id's address and Availability Zone (signed admin API).",
  details: ["Load balancers register instance ids; an instance id that is an IP address needs no entry."],
  flags: {
    address: { type: "string", arg: "ADDR", help: "the instance's IPv4 or IPv6 address" },
    zone: { type: "string", arg: "ZONE", help: "the instance's Availability Zone, such as us-east-1a" },
    ...CLIENT_FLAGS,
    ...JSON_FLAG,
  },
  common: CLIENT_JSON,
  verbs: [
    {
      name: "add",
      args: "ID",
      summary: "add an instance, or move it (--address and --zone are required)",
      flags: ["address", "zone"],
    },
    { name: "remove", args: "ID", summary: "remove an instance no load balancer registers" },
    { name: "list", summary: "the inventory: instance id, address, zone" },
  ],
});

export const SUBNETS = defineCommand({
  name: "subnets",
  summary:
    "The subnet registry: each subnet's zone and VPC, for load balancers created with Subnets (signed admin API).",
  flags: {
    zone: { type: "string", arg: "ZONE", help: "the subnet's Availability Zone (it names the region)" },
    vpc: { type: "string", arg: "VPC", help: "the VPC id, vpc- and 8 or 17 hex digits" },
    cidr: { type: "string", arg: "CIDR", help: "the subnet's IPv4 CIDR block" },
    default: {
      type: "boolean",
      default: false,
      help: "the default subnet of its zone: AvailabilityZones place load balancers in it",
    },
    ...CLIENT_FLAGS,
    ...JSON_FLAG,
  },
  common: CLIENT_JSON,
  verbs: [
    {
      name: "add",
      args: "ID",
      summary: "declare a subnet (--zone and --vpc are required)",
      flags: ["zone", "vpc", "cidr", "default"],
    },
    { name: "remove", args: "ID", summary: "remove a subnet no load balancer uses" },
    { name: "list", summary: "the registry: subnet, zone, VPC, CIDR, default" },
  ],
});

export const LIMITS = defineCommand({
  name: "limits",
  summary: "The account limits DescribeAccountLimits reports and the API enforces, per region (--region).",
  flags: { ...CLIENT_FLAGS, ...JSON_FLAG },
  common: CLIENT_JSON,
  verbs: [
    { name: "list", summary: "each limit: its maximum and default" },
    { name: "set", args: "NAME MAX", summary: "set a limit (lowering it removes nothing, it stops growth)" },
    { name: "reset", args: "NAME", summary: "put a limit back to its default" },
  ],
});

export const CERTS = defineCommand({
  name: "certs",
  summary:
    "Server certificates for HTTPS/SSL listeners; the private key goes in and never comes out (signed admin API).",
  flags: {
    cert: { type: "string", arg: "FILE", help: "the certificate, PEM" },
    key: { type: "string", arg: "FILE", help: "its private key, PEM" },
    chain: { type: "string", arg: "FILE", help: "the intermediate certificates, PEM" },
    arn: {
      type: "string",
      arg: "ARN",
      help: "store it under this ACM or IAM ARN instead of a generated one",
    },
    ...CLIENT_FLAGS,
    ...JSON_FLAG,
  },
  common: CLIENT_JSON,
  verbs: [
    {
      name: "upload",
      args: "NAME",
      summary: "store a certificate, or rotate it in place (--cert and --key are required)",
      flags: ["cert", "key", "chain", "arn"],
    },
    { name: "list", summary: "name, subject, expiry, SHA-256 fingerprint, ARN" },
    { name: "delete", args: "NAME", summary: "delete a certificate no listener uses" },
  ],
});

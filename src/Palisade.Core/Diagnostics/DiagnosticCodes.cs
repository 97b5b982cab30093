namespace Palisade.Diagnostics;

/// <summary>
/// Every diagnostic code Palisade reports, in one place. Codes are never renumbered or reused;
/// docs/diagnostics.md explains each for users.
/// </summary>
public static class DiagnosticCodes
{
    /// <summary>A path given on the command line or in a case file does not exist or cannot be read.</summary>
    public const string UnreadableInput = "PAL0001";

    /// <summary>A YAML document is malformed.</summary>
    public const string MalformedYaml = "PAL0002";

    /// <summary>A JSON document is malformed.</summary>
    public const string MalformedJson = "PAL0003";

    /// <summary>A document is not a Kubernetes object (no <c>kind</c> or <c>apiVersion</c>); it is skipped.</summary>
    public const string NotAnObject = "PAL0004";

    /// <summary>A kind Palisade does not read; the object is skipped.</summary>
    public const string IgnoredKind = "PAL0005";

    /// <summary>A required field is missing.</summary>
    public const string MissingField = "PAL0006";

    /// <summary>A field has the wrong type (a list where a map belongs, text where a number belongs).</summary>
    public const string WrongType = "PAL0007";

    /// <summary>A field Palisade does not know; it is ignored.</summary>
    public const string UnknownField = "PAL0008";

    /// <summary>A name (of an object, label, port) is not valid in Kubernetes.</summary>
    public const string InvalidName = "PAL0009";

    /// <summary>A label selector is invalid (unknown operator, <c>In</c> without values, bad label value).</summary>
    public const string InvalidSelector = "PAL0010";

    /// <summary>A CIDR block or an address is invalid.</summary>
    public const string InvalidCidr = "PAL0011";

    /// <summary>An <c>ipBlock.except</c> entry is not inside the block's CIDR.</summary>
    public const string InvalidExcept = "PAL0012";

    /// <summary>A peer mixes <c>ipBlock</c> with selectors, or a Cilium CIDR-set entry mixes <c>cidr</c>, <c>cidrGroupRef</c> and <c>cidrGroupSelector</c>.</summary>
    public const string InvalidPeer = "PAL0013";

    /// <summary>A peer is empty (<c>{}</c>): it must name pods, namespaces or addresses.</summary>
    public const string EmptyPeer = "PAL0014";

    /// <summary>A port number, port name or ICMP type is invalid.</summary>
    public const string InvalidPort = "PAL0015";

    /// <summary>A port range is invalid (<c>endPort</c> below <c>port</c>, with a named port, or without a port).</summary>
    public const string InvalidPortRange = "PAL0016";

    /// <summary>A protocol is not TCP, UDP or SCTP (or, in Cilium policies, ANY; in case files, ICMP or ICMPv6), or an ICMP family is not IPv4 or IPv6.</summary>
    public const string InvalidProtocol = "PAL0017";

    /// <summary>A <c>policyTypes</c> entry is not Ingress or Egress, or is repeated.</summary>
    public const string InvalidPolicyType = "PAL0018";

    /// <summary>Two objects of one kind share a namespace and name.</summary>
    public const string DuplicateObject = "PAL0019";

    /// <summary>A named port is used with an <c>ipBlock</c> peer, where no container port can give it a number.</summary>
    public const string NamedPortWithIpBlock = "PAL0020";

    /// <summary>Pods of one workload differ in a label that a policy selects on, so the workload has no single connectivity.</summary>
    public const string WorkloadLabelGap = "PAL0030";

    /// <summary>A connectivity case file is not in the case format.</summary>
    public const string InvalidCase = "PAL0040";

    /// <summary>A case step refers to an object or pod that does not exist.</summary>
    public const string UnknownReference = "PAL0041";

    /// <summary>A matrix grid is malformed.</summary>
    public const string InvalidGrid = "PAL0042";

    /// <summary>A cluster-wide policy's priority is not a whole number from 0 to 1000.</summary>
    public const string InvalidPriority = "PAL0050";

    /// <summary>Two policies of one cluster-wide tier share a priority, so their order is undefined.</summary>
    public const string SamePriority = "PAL0051";

    /// <summary>A cluster-wide policy's subject is empty, or sets both <c>namespaces</c> and <c>pods</c>.</summary>
    public const string InvalidSubject = "PAL0052";

    /// <summary>A cluster-wide rule has no peers, or a peer sets no field or more than one.</summary>
    public const string InvalidAdminPeer = "PAL0053";

    /// <summary>A cluster-wide rule's port sets no field or more than one of <c>portNumber</c>, <c>namedPort</c>, <c>portRange</c>.</summary>
    public const string InvalidAdminPort = "PAL0054";

    /// <summary>A cluster-wide rule's action is missing or not one its tier allows.</summary>
    public const string InvalidAction = "PAL0055";

    /// <summary>A BaselineAdminNetworkPolicy is not named <c>default</c>, the only name the API server accepts.</summary>
    public const string BaselineName = "PAL0056";

    /// <summary>
    /// A Cilium policy that the API server accepts but the Cilium agent refuses (layer-7 rules on a
    /// non-TCP port, layer-7 or DNS-name rules in a deny rule, peer kinds mixed in one rule, an invalid
    /// expression). Like Cilium, Palisade then leaves the whole policy out; a warning.
    /// </summary>
    public const string CiliumRejected = "PAL0060";

    /// <summary>A Cilium entity that does not exist.</summary>
    public const string InvalidEntity = "PAL0061";

    /// <summary>A feature Palisade does not evaluate as Cilium does (<c>toGroups</c>, requirements, Kafka and other layer-7 protocols, EndpointSlices of names); the warning says what is left out.</summary>
    public const string UnsupportedFeature = "PAL0062";

    /// <summary>
    /// A line of a flow file or stream that is not a Hubble flow in JSON (not JSON, a field of the
    /// wrong type, a time that is not RFC 3339). The line is counted and left out; the rest is kept.
    /// </summary>
    public const string MalformedFlow = "PAL0100";

    /// <summary>A flow file that cannot be read (missing, unreadable, a broken gzip stream).</summary>
    public const string UnreadableFlowFile = "PAL0101";

    /// <summary>A flow store that cannot be opened or used (a bad <c>--store</c> value, a schema newer than this Palisade).</summary>
    public const string FlowStoreProblem = "PAL0102";

    /// <summary>An alert rule file that is not what <c>palisade flows alerts</c> reads (an unknown field, a bad pattern, a duplicate name).</summary>
    public const string InvalidAlertRule = "PAL0103";
}

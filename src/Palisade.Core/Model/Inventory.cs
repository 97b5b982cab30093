using Palisade.Sets;

namespace Palisade.Model;

/// <summary>The kind, namespace and name that identify an object of a cluster.</summary>
public readonly record struct ObjectKey(string Kind, string Namespace, string Name)
{
    /// <summary><c>Kind/namespace/name</c>, or <c>Kind/name</c> for cluster-scoped kinds.</summary>
    public override string ToString() => Namespace.Length == 0 ? $"{Kind}/{Name}" : $"{Kind}/{Namespace}/{Name}";
}

/// <summary>A Kubernetes Namespace and its labels (which always include <c>kubernetes.io/metadata.name</c>).</summary>
public sealed record NamespaceSpec
{
    /// <summary>The label every namespace carries, whose value is its name.</summary>
    public const string NameLabel = "kubernetes.io/metadata.name";

    /// <summary>The namespace's name.</summary>
    public required string Name { get; init; }

    /// <summary>The labels, including <see cref="NameLabel"/>.</summary>
    public required LabelSet Labels { get; init; }

    /// <summary>Whether the namespace was written in the input, rather than implied by an object in it.</summary>
    public bool IsDeclared { get; init; } = true;

    /// <summary>Where it was written.</summary>
    public SourceLocation? Location { get; init; }

    /// <summary>A namespace with the given labels plus its name label.</summary>
    public static NamespaceSpec Create(string name, LabelSet? labels = null, bool declared = true, SourceLocation? location = null) => new()
    {
        Name = name,
        Labels = (labels ?? LabelSet.Empty).With(NameLabel, name),
        IsDeclared = declared,
        Location = location,
    };
}

/// <summary>A port that a container of a pod declares; <see cref="Name"/> is what named policy ports refer to.</summary>
public sealed record ContainerPortSpec(string? Name, int Port, Protocol Protocol);

/// <summary>
/// The workload a pod stands for in a workload-level report: its top owner as the input names it.
/// <c>ns/name[Kind]</c> in text, as netpol-analyzer writes it.
/// </summary>
public sealed record WorkloadRef(string Kind, string Namespace, string Name)
{
    /// <summary><c>ns/name[Kind]</c>.</summary>
    public override string ToString() => $"{Namespace}/{Name}[{Kind}]";
}

/// <summary>A pod: the unit that policies select and connections run between.</summary>
public sealed record PodSpec
{
    /// <summary>The pod's namespace.</summary>
    public required string Namespace { get; init; }

    /// <summary>The pod's name.</summary>
    public required string Name { get; init; }

    /// <summary>The pod's labels.</summary>
    public LabelSet Labels { get; init; } = LabelSet.Empty;

    /// <summary>Every container port the pod declares.</summary>
    public IReadOnlyList<ContainerPortSpec> Ports { get; init; } = [];

    /// <summary>The pod's addresses (<c>status.podIPs</c>); empty when the input gives none.</summary>
    public IReadOnlyList<UInt128> Addresses { get; init; } = [];

    /// <summary><c>spec.nodeName</c>, when given.</summary>
    public string? NodeName { get; init; }

    /// <summary><c>status.hostIP</c>, when given.</summary>
    public UInt128? HostAddress { get; init; }

    /// <summary><c>spec.hostNetwork</c>. Such pods are analysed like any other, with their own addresses.</summary>
    public bool HostNetwork { get; init; }

    /// <summary><c>spec.serviceAccountName</c> (<c>default</c> when absent), which Cilium selectors can name.</summary>
    public string ServiceAccount { get; init; } = "default";

    /// <summary>The workload the pod stands for in workload-level reports.</summary>
    public required WorkloadRef Workload { get; init; }

    /// <summary>Where it was written.</summary>
    public SourceLocation? Location { get; init; }

    /// <summary>The key of the Pod object (or, for a pod made from a workload's template, of that pod).</summary>
    public ObjectKey Key => new("Pod", Namespace, Name);

    /// <summary><c>ns/name</c>.</summary>
    public override string ToString() => $"{Namespace}/{Name}";
}

/// <summary>
/// A workload object (Deployment, ReplicaSet, ReplicationController, StatefulSet, DaemonSet, Job,
/// CronJob) from which pods are made: its template's labels and ports.
/// </summary>
public sealed record WorkloadSpec
{
    /// <summary>The workload kinds Palisade reads.</summary>
    public static readonly IReadOnlyList<string> Kinds =
        ["Deployment", "ReplicaSet", "ReplicationController", "StatefulSet", "DaemonSet", "Job", "CronJob"];

    /// <summary>The kind, e.g. <c>Deployment</c>.</summary>
    public required string Kind { get; init; }

    /// <summary>The namespace.</summary>
    public required string Namespace { get; init; }

    /// <summary>The name.</summary>
    public required string Name { get; init; }

    /// <summary>The pod template's labels.</summary>
    public LabelSet PodLabels { get; init; } = LabelSet.Empty;

    /// <summary>The pod template's container ports.</summary>
    public IReadOnlyList<ContainerPortSpec> Ports { get; init; } = [];

    /// <summary>The pod template's <c>hostNetwork</c>.</summary>
    public bool HostNetwork { get; init; }

    /// <summary>The pod template's <c>serviceAccountName</c>.</summary>
    public string ServiceAccount { get; init; } = "default";

    /// <summary>Where it was written.</summary>
    public SourceLocation? Location { get; init; }

    /// <summary>The workload's object key.</summary>
    public ObjectKey Key => new(Kind, Namespace, Name);

    /// <summary>The workload as a report names it.</summary>
    public WorkloadRef Ref => new(Kind, Namespace, Name);
}

/// <summary>A Node, for the addresses that <c>node:NAME</c> endpoints and node peers stand for.</summary>
public sealed record NodeSpec
{
    /// <summary>The node's name.</summary>
    public required string Name { get; init; }

    /// <summary>The node's labels.</summary>
    public LabelSet Labels { get; init; } = LabelSet.Empty;

    /// <summary>The node's addresses (<c>status.addresses</c> of type InternalIP or ExternalIP).</summary>
    public IReadOnlyList<UInt128> Addresses { get; init; } = [];

    /// <summary>Where it was written.</summary>
    public SourceLocation? Location { get; init; }
}

/// <summary>A Service: its selector and ports. Read now so that later dialects (Cilium <c>toServices</c>) can use it.</summary>
public sealed record ServiceSpec
{
    /// <summary>The namespace.</summary>
    public required string Namespace { get; init; }

    /// <summary>The name.</summary>
    public required string Name { get; init; }

    /// <summary>The pod selector; null for a Service without one.</summary>
    public LabelSet? Selector { get; init; }

    /// <summary>The Service's own labels.</summary>
    public LabelSet Labels { get; init; } = LabelSet.Empty;

    /// <summary>Where it was written.</summary>
    public SourceLocation? Location { get; init; }
}

/// <summary>
/// An EndpointSlice, or a v1 Endpoints object read as the slice Kubernetes mirrors from it. Those of
/// the <c>default/kubernetes</c> service hold the Kubernetes API server's addresses (Cilium's
/// <c>kube-apiserver</c> entity); those of a service without a selector, what <c>toServices</c> naming it admits.
/// </summary>
public sealed record EndpointSliceSpec
{
    /// <summary>The kind it was read from: <c>EndpointSlice</c>, or <c>Endpoints</c> (read as the slice Kubernetes mirrors from it).</summary>
    public string Kind { get; init; } = "EndpointSlice";

    /// <summary>The object's key.</summary>
    public ObjectKey Key => new(Kind, Namespace, Name);

    /// <summary>The namespace.</summary>
    public required string Namespace { get; init; }

    /// <summary>The name.</summary>
    public required string Name { get; init; }

    /// <summary>The service it serves: the <c>kubernetes.io/service-name</c> label, or an Endpoints object's own name.</summary>
    public string? ServiceName { get; init; }

    /// <summary>The endpoint addresses.</summary>
    public IReadOnlyList<UInt128> Addresses { get; init; } = [];

    /// <summary>Where it was written.</summary>
    public SourceLocation? Location { get; init; }

    /// <summary>Whether the slice belongs to the <c>default/kubernetes</c> service, the API server.</summary>
    public bool IsApiServer => Namespace == "default" && (ServiceName ?? Name) == "kubernetes";
}

/// <summary>
/// A CiliumCIDRGroup (<c>cilium.io/v2alpha1</c> or <c>v2</c>, cluster-scoped): a named, labelled list
/// of outside CIDRs that Cilium policies name in <c>fromCIDRSet</c>/<c>toCIDRSet</c> with
/// <c>cidrGroupRef</c> or <c>cidrGroupSelector</c>; a TRE's approved destinations, kept in one place.
/// </summary>
public sealed record CiliumCidrGroupSpec
{
    /// <summary>The name.</summary>
    public required string Name { get; init; }

    /// <summary>The labels, which <c>cidrGroupSelector</c> matches.</summary>
    public LabelSet Labels { get; init; } = LabelSet.Empty;

    /// <summary>The addresses of <c>spec.externalCIDRs</c>.</summary>
    public required IpSet Cidrs { get; init; }

    /// <summary>Where it was written.</summary>
    public SourceLocation? Location { get; init; }

    /// <summary>The object's key.</summary>
    public ObjectKey Key => new("CiliumCIDRGroup", string.Empty, Name);
}

namespace Palisade.Flows.Records;

/// <summary>What Palisade's policy engine says of a flow.</summary>
public enum EngineVerdict : byte
{
    /// <summary>Not attributed, or an end could not be resolved.</summary>
    Unknown = 0,

    /// <summary>The policies allow the flow.</summary>
    Allowed = 1,

    /// <summary>The policies deny the flow.</summary>
    Denied = 2,
}

/// <summary>How the verdict Hubble observed and the engine's verdict differ.</summary>
public enum Disagreement : byte
{
    /// <summary>They agree, or one of them is unknown.</summary>
    None = 0,

    /// <summary>Forwarded though the policies deny it: an enforcement gap, or policies newer than the flow.</summary>
    ForwardedButDenied = 1,

    /// <summary>Dropped by policy though the policies allow it: stale enforcement, or policies Palisade was not given.</summary>
    DroppedButAllowed = 2,
}

/// <summary>The engine's verdict on a flow and what decided it.</summary>
public sealed record FlowAttribution
{
    /// <summary>The engine's verdict.</summary>
    public EngineVerdict Verdict { get; init; }

    /// <summary>The tier that decided (<c>admin</c>, <c>namespace</c>, <c>baseline</c>), or null when no policy decided.</summary>
    public string? Tier { get; init; }

    /// <summary>The deciding policy (<c>NetworkPolicy project-alpha/default-deny</c>), or null.</summary>
    public string? Policy { get; init; }

    /// <summary>The deciding rule's path inside the policy (<c>spec.egress[0].to[1]</c>), or null.</summary>
    public string? Rule { get; init; }

    /// <summary>Whether the observed verdict and the engine's disagree.</summary>
    public Disagreement Disagreement { get; init; }

    /// <summary>The research project the flow belongs to (the project of its in-cluster end), or null.</summary>
    public string? Project { get; init; }
}

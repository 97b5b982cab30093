namespace Palisade.Verdicts;

/// <summary>
/// A request asked about at layer 7: an HTTP request or a DNS query. A connection that layers 3 and 4
/// allow may still refuse it when every rule that admits the connection carries HTTP or DNS rules.
/// </summary>
public sealed record L7Request
{
    /// <summary>The HTTP method, for an HTTP request.</summary>
    public string? Method { get; init; }

    /// <summary>The HTTP path (with any query string).</summary>
    public string? Path { get; init; }

    /// <summary>The HTTP Host header.</summary>
    public string? Host { get; init; }

    /// <summary>Other HTTP headers.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>The name queried, for a DNS query; null for an HTTP request.</summary>
    public string? DnsQuery { get; init; }

    /// <summary>Whether this is a DNS query rather than an HTTP request.</summary>
    public bool IsDns => DnsQuery is not null;

    /// <summary>For people: <c>GET /api</c> or <c>DNS pypi.org</c>.</summary>
    public override string ToString() => IsDns ? $"DNS {DnsQuery}" : $"HTTP {Method ?? "*"} {Path ?? "/"}{(Host is null ? string.Empty : $" (host {Host})")}";
}

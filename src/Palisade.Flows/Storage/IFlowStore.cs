using Palisade.Flows.Records;

namespace Palisade.Flows.Storage;

/// <summary>What one write did: flows stored, and flows already stored (read twice) that were left out.</summary>
public readonly record struct FlowWriteResult(long Written, long Duplicates)
{
    /// <summary>Adds two results.</summary>
    public static FlowWriteResult operator +(FlowWriteResult a, FlowWriteResult b) => new(a.Written + b.Written, a.Duplicates + b.Duplicates);

    /// <summary>Adds two results (for languages without operators).</summary>
    public static FlowWriteResult Add(FlowWriteResult a, FlowWriteResult b) => a + b;
}

/// <summary>A field stored flows can be counted by.</summary>
public enum FlowCountField
{
    /// <summary>The observed verdict's name.</summary>
    Verdict,

    /// <summary>The source namespace.</summary>
    SourceNamespace,

    /// <summary>The destination namespace.</summary>
    DestinationNamespace,

    /// <summary>Cilium's event type number.</summary>
    EventType,

    /// <summary>The layer-7 record type's name.</summary>
    L7Type,

    /// <summary>The layer-4 protocol's name.</summary>
    Protocol,

    /// <summary>The node that saw the flow.</summary>
    Node,

    /// <summary>The drop reason.</summary>
    DropReason,
}

/// <summary>
/// Where flows are kept: written in batches, each batch atomically and idempotently (a flow already
/// stored, known by its identity and time, is left out), and queried with <see cref="FlowQuery"/>.
/// A store is opened by its factory, which brings its schema up to date first.
/// </summary>
public interface IFlowStore : IAsyncDisposable
{
    /// <summary>Where the store is, for messages (<c>duckdb:/var/lib/palisade/flows.duckdb</c>); no password.</summary>
    string Description { get; }

    /// <summary>The schema version the store is at.</summary>
    int SchemaVersion { get; }

    /// <summary>
    /// How many writes a writer may have in flight at once to the store's benefit: 1 for a store that
    /// takes one write at a time; more for one whose server stores several at once, while its client
    /// prepares the next.
    /// </summary>
    int ConcurrentWrites => 1;

    /// <summary>
    /// Stores a batch in one transaction: all of it, or (on a crash or error) none of it. Flows already
    /// stored, and repeats within the batch, are counted as duplicates and not stored again.
    /// </summary>
    Task<FlowWriteResult> WriteAsync(IReadOnlyList<FlowRecord> flows, CancellationToken cancel = default);

    /// <summary>Stores a batch as <see cref="WriteAsync"/> does, and returns the flows that were new (in their order, each once): what alerts are raised for.</summary>
    Task<IReadOnlyList<FlowRecord>> WriteNewAsync(IReadOnlyList<FlowRecord> flows, CancellationToken cancel = default);

    /// <summary>The flows the query selects, oldest first.</summary>
    IAsyncEnumerable<FlowRecord> QueryAsync(FlowQuery query, CancellationToken cancel = default);

    /// <summary>How many flows the query selects.</summary>
    Task<long> CountAsync(FlowQuery query, CancellationToken cancel = default);

    /// <summary>How many flows the query selects, by the values of one field, most first; a missing value is counted under null.</summary>
    Task<IReadOnlyList<KeyValuePair<string?, long>>> CountByAsync(FlowQuery query, FlowCountField field, CancellationToken cancel = default);

    /// <summary>A summary of the flows the query selects (see <see cref="FlowAggregate"/>), at most <paramref name="limit"/> rows, most flows first.</summary>
    Task<IReadOnlyList<FlowAggregateRow>> AggregateAsync(FlowQuery query, FlowAggregate aggregate, int limit = 100, CancellationToken cancel = default);

    /// <summary>The retention rules kept in the store, by target.</summary>
    Task<IReadOnlyList<RetentionRule>> GetRetentionRulesAsync(CancellationToken cancel = default);

    /// <summary>Replaces the retention rules, in one transaction.</summary>
    Task SetRetentionRulesAsync(IReadOnlyList<RetentionRule> rules, CancellationToken cancel = default);

    /// <summary>
    /// Deletes the flows older than their retention at <paramref name="nowNanos"/> (whole time partitions
    /// where the store has them and every flow in one has expired, then ranges); a dry run only counts them.
    /// </summary>
    Task<RetentionResult> ApplyRetentionAsync(long nowNanos, bool dryRun = false, CancellationToken cancel = default);
}

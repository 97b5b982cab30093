namespace Palisade.Flows.Storage;

/// <summary>Which store a <c>--store</c> value names.</summary>
public enum FlowStoreKind
{
    /// <summary>An embedded DuckDB file.</summary>
    DuckDb,

    /// <summary>A PostgreSQL server.</summary>
    Postgres,
}

/// <summary>A parsed <c>--store</c> value: <c>duckdb:PATH</c> or <c>postgres:CONNECTION-STRING</c>.</summary>
public sealed record FlowStoreLocation(FlowStoreKind Kind, string Target)
{
    /// <summary>The environment variable that sets Palisade's data folder.</summary>
    public const string DataFolderVariable = "PALISADE_DATA_DIR";

    /// <summary>
    /// Palisade's data folder: <c>$PALISADE_DATA_DIR</c>, else <c>$XDG_DATA_HOME/palisade</c>, else
    /// <c>~/.local/share/palisade</c>.
    /// </summary>
    public static string DataFolder
    {
        get
        {
            var set = Environment.GetEnvironmentVariable(DataFolderVariable);
            if (!string.IsNullOrEmpty(set))
            {
                return set;
            }

            var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
            var root = string.IsNullOrEmpty(xdg) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share") : xdg;
            return Path.Combine(root, "palisade");
        }
    }

    /// <summary>The default store: <c>flows.duckdb</c> in the data folder.</summary>
    public static FlowStoreLocation Default => new(FlowStoreKind.DuckDb, Path.Combine(DataFolder, "flows.duckdb"));

    /// <summary>Reads a <c>--store</c> value; null (with the reason) when it names no store.</summary>
    public static FlowStoreLocation? Parse(string? text, out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return Default;
        }

        if (text.StartsWith("duckdb:", StringComparison.OrdinalIgnoreCase))
        {
            var path = text["duckdb:".Length..];
            if (path.Length == 0)
            {
                error = "'duckdb:' needs a file path, for example duckdb:/var/lib/palisade/flows.duckdb";
                return null;
            }

            return new FlowStoreLocation(FlowStoreKind.DuckDb, path);
        }

        foreach (var prefix in (ReadOnlySpan<string>)["postgres:", "postgresql:"])
        {
            if (text.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                var connection = text[prefix.Length..];
                if (connection.Length == 0)
                {
                    error = "'postgres:' needs a connection string, for example postgres:Host=db;Database=palisade;Username=palisade";
                    return null;
                }

                return new FlowStoreLocation(FlowStoreKind.Postgres, connection);
            }
        }

        error = $"'{text}' names no flow store; expected duckdb:PATH or postgres:CONNECTION-STRING";
        return null;
    }

    /// <summary>For messages: the kind and where, without a password.</summary>
    public override string ToString() => Kind == FlowStoreKind.DuckDb ? "duckdb:" + Target : "postgres:" + PostgresFlowStore.Redact(Target);
}

/// <summary>Opens the store a location names.</summary>
public static class FlowStores
{
    /// <summary>Opens and migrates the store; throws <see cref="FlowStoreException"/> when it cannot.</summary>
    public static async Task<IFlowStore> OpenAsync(FlowStoreLocation location, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(location);
        return location.Kind switch
        {
            FlowStoreKind.DuckDb => await DuckDbFlowStore.OpenAsync(location.Target, cancel).ConfigureAwait(false),
            _ => await PostgresFlowStore.OpenAsync(location.Target, cancel).ConfigureAwait(false),
        };
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Palisade.Flows.Tests.Storage;

/// <summary>
/// A real PostgreSQL server for the store tests: the one <c>PALISADE_TEST_POSTGRES</c> names (a
/// connection string for a user who may create databases; <c>.ci/run</c> starts one and sets it), or
/// else a private one this fixture starts on a free loopback port from Debian's PostgreSQL binaries
/// and stops when the tests end. <see cref="Unavailable"/> says why there is none.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    public const string Variable = "PALISADE_TEST_POSTGRES";

    private string? _dataFolder;
    private string? _pgCtl;

    /// <summary>A connection string for a user who may create databases; null when there is no server.</summary>
    public string? AdminConnectionString { get; private set; }

    /// <summary>Why there is no server, for the skip message.</summary>
    public string? Unavailable { get; private set; }

    public async Task InitializeAsync()
    {
        var given = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrEmpty(given))
        {
            AdminConnectionString = given;
            return;
        }

        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderDescending().FirstOrDefault()
            : null;
        if (bin is null)
        {
            Unavailable = $"no PostgreSQL server: set {Variable} to a connection string, or install Debian's postgresql package (.ci/run does both)";
            return;
        }

        var root = Environment.UserName == "root";
        _dataFolder = Directory.CreateTempSubdirectory("palisade-pg-").FullName;
        _pgCtl = Path.Combine(bin, "pg_ctl");
        if (root)
        {
            await Run("chown", $"postgres {_dataFolder}");
        }

        var port = FreePort();
        await Run(Path.Combine(bin, "initdb"), $"-D {_dataFolder} -U palisade --auth=trust -E UTF8 --no-sync", root);
        await Run(_pgCtl, $"-D {_dataFolder} -w -l {_dataFolder}/server.log -o \"-p {port} -k {_dataFolder} -c listen_addresses=127.0.0.1 -c fsync=off\" start", root);
        AdminConnectionString = $"Host=127.0.0.1;Port={port};Username=palisade;Database=postgres";
    }

    public async Task DisposeAsync()
    {
        if (_pgCtl is not null && _dataFolder is not null)
        {
            await Run(_pgCtl, $"-D {_dataFolder} -m immediate stop", Environment.UserName == "root");
            Directory.Delete(_dataFolder, recursive: true);
        }
    }

    /// <summary>Creates an empty database and gives its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "palisade_test_" + Guid.NewGuid().ToString("N")[..12];
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name }.ConnectionString;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task Run(string program, string arguments, bool asPostgres = false)
    {
        var start = asPostgres
            ? new ProcessStartInfo("runuser", $"-u postgres -- {program} {arguments}")
            : new ProcessStartInfo(program, arguments);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {arguments} failed ({process.ExitCode}): {await output}{await error}");
        }
    }
}

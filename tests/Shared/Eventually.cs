namespace Palisade.Tests;

/// <summary>Waiting, in tests, for something another thread or process does.</summary>
internal static class Eventually
{
    /// <summary>Returns once <paramref name="condition"/> holds; fails the test after 20 seconds, naming <paramref name="what"/>.</summary>
    public static async Task Until(Func<bool> condition, string what)
    {
        for (var waited = 0; !condition(); waited += 20)
        {
            Assert.True(waited < 20_000, "timed out waiting for " + what);
            await Task.Delay(20);
        }
    }
}

using CsCheck;
using Palisade.Manifests;

namespace Palisade.Tests;

/// <summary>Bad input never crashes: any corruption of a valid manifest ends in diagnostics, not an exception.</summary>
public sealed class MalformedInputTests
{
    private const string Valid = """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          name: web
          namespace: shop
        spec:
          podSelector:
            matchLabels: {app: web}
            matchExpressions:
            - {key: tier, operator: In, values: [front, "back"]}
          policyTypes: [Ingress, Egress]
          ingress:
          - from:
            - namespaceSelector: {matchLabels: {team: a}}
              podSelector: {}
            - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
            ports:
            - {protocol: TCP, port: 80, endPort: 90}
            - port: http
          egress: [{}]
        ---
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]}}
        """;

    private static readonly char[] Noise = ['{', '}', '[', ']', ':', '-', ' ', '\n', '"', '\'', '&', '*', '!', '|', '>', '#', '%', '@', '`', ',', '\t', 'x', '0', '?'];

    [Fact]
    public void LoadText_CorruptedManifest_NeverThrows() =>
        Gen.Select(Gen.Int[0, Valid.Length - 1].Array[1, 6], Gen.Int[0, Noise.Length - 1].Array[6], Gen.Int[0, 2].Array[6]).Sample((positions, noise, actions) =>
        {
            var text = new System.Text.StringBuilder(Valid);
            for (var i = 0; i < positions.Length; i++)
            {
                var at = Math.Min(positions[i], text.Length - 1);
                switch (actions[i])
                {
                    case 0:
                        text[at] = Noise[noise[i]];
                        break;
                    case 1:
                        text.Insert(at, Noise[noise[i]]);
                        break;
                    default:
                        text.Remove(at, 1);
                        break;
                }
            }

            var yaml = ManifestLoader.LoadText(text.ToString(), "fuzz.yaml");
            var json = ManifestLoader.LoadText(text.ToString(), "fuzz.json");
            Assert.All(yaml.Diagnostics.Concat(json.Diagnostics), static d => Assert.StartsWith("PAL", d.Code, StringComparison.Ordinal));
        }, iter: 3000);
}

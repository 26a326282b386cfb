namespace Sharpformer.Tests.Server;

/// <summary>One default server shared by a test class.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    private ServerHost? _host;

    public ServerHost Host => _host ?? throw new InvalidOperationException("not started");

    public async ValueTask InitializeAsync() => _host = await ServerHost.StartAsync(new Sharpformer.Server.ServerOptions { MaxBodyBytes = 64 * 1024 });

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}

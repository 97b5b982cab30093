using Palisade.Cli;

return PalisadeApp.Run(args, Console.Out, Console.Error);

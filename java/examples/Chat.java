import io.rats.Client;
import io.rats.TransferResult;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A chat peer in one file: run it in two JVMs.
 *
 * <pre>
 *   java -cp rats.jar Chat.java 9000                   # the first one listens on 9000
 *   java -cp rats.jar Chat.java 0 127.0.0.1:9000       # the second one connects to it
 * </pre>
 *
 * Type a line to send it to every peer; "/send PATH" offers a file to every peer (the other
 * side saves it in ./received/); "/quit" leaves. Local only: no DHT, mDNS or NAT traversal.
 */
public class Chat {
    public static void main(String[] args) throws Exception {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 0;
        Path inbox = Files.createDirectories(Path.of("received"));
        try (Client client = Client.builder().port(port).localOnly(true).build()) {
            System.out.println("peer id " + client.peerId() + ", port " + client.listenPort());
            client.onText((peer, text) -> System.out.println(peer.substring(0, 8) + ": " + text))
                  .onPeerConnected(peer -> System.out.println("* connected " + peer.substring(0, 8)))
                  .onFileOffer(offer -> {
                      System.out.println("* receiving " + offer.name() + " into " + inbox);
                      return inbox.resolve(offer.name());
                  });
            for (int i = 1; i < args.length; i++) {
                String[] hostPort = args[i].split(":");
                client.connect(hostPort[0], Integer.parseInt(hostPort[1])).get(10, TimeUnit.SECONDS);
            }
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
            for (String line; (line = in.readLine()) != null && !line.equals("/quit"); ) {
                if (line.startsWith("/send ")) {
                    Path file = Path.of(line.substring(6).trim());
                    for (String peer : client.peers()) {
                        TransferResult r = client.sendFile(peer, file,
                                p -> System.out.print("\r" + file.getFileName() + " " + p.percent() + "%"))
                            .result().get(120, TimeUnit.SECONDS);
                        System.out.println("\r" + file.getFileName() + ": " + r.status());
                    }
                } else if (!line.isBlank()) {
                    client.broadcastText(line);
                }
            }
        }
    }
}

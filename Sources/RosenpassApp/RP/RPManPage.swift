// The man page of `rp`, written by `rosenpass --generate-manpage DIR` next to rosenpass's own.
// `rp` parses its words by hand, so this page is written here rather than derived from a parser.

extension ManPage {
    /// `rp.1`.
    static func rpPage() -> String {
        var page = ".TH RP 1 \"\" \"rp \(RosenpassCommand.version)\" \"User Commands\"\n"
        page += """
            .SH NAME
            rp \\- set up WireGuard and Rosenpass together
            .SH SYNOPSIS
            .B rp
            [verbose] genkey|pubkey|exchange|exchange-config [ARGS]...
            .br
            .B rp
            help | \\-\\-help | \\-h | \\-\\-version
            .SH DESCRIPTION
            rp creates a WireGuard interface and runs a Rosenpass key exchange with each of its peers, so that
            the interface's pre-shared keys are replaced with fresh post-quantum-secure keys every two minutes.
            It is the quick way to a post-quantum-secure tunnel between two or more hosts; rosenpass(1) with a
            configuration file and the PSK broker is the way for a system service.
            .PP
            Commands have no leading dashes (only help and the version also answer to \\-\\-help, \\-h and \\-\\-version). Before the command, \\fBverbose\\fR makes the daemon log every key
            exchange. Addresses are IP literals (192.0.2.1:9999, [2001:db8::1]:9999), never host names.
            .SH COMMANDS
            .TP
            \\fBgenkey\\fR \\fIPRIVATE_KEYS_DIR\\fR
            Creates the folder (mode 0700) with a new WireGuard secret key (\\fIwgsk\\fR) and a Rosenpass key pair
            (\\fIpqsk\\fR, mode 0600, and \\fIpqpk\\fR). Existing keys in the folder are kept.
            .TP
            \\fBpubkey\\fR \\fIPRIVATE_KEYS_DIR\\fR \\fIPUBLIC_KEYS_DIR\\fR
            Writes the public keys (\\fIwgpk\\fR, the WireGuard public key of wgsk, and a copy of \\fIpqpk\\fR)
            into a folder to give to peers.
            .TP
            \\fBexchange\\fR \\fIPRIVATE_KEYS_DIR\\fR [\\fBdev\\fR \\fINAME\\fR] [\\fBip\\fR \\fIADDR/CIDR\\fR] [\\fBlisten\\fR \\fIIP:PORT\\fR] [\\fBpeer\\fR \\fIPUBLIC_KEYS_DIR\\fR [\\fBendpoint\\fR \\fIIP:PORT\\fR] [\\fBpersistent-keepalive\\fR \\fISECONDS\\fR] [\\fBallowed-ips\\fR \\fIADDR/CIDR\\fR[,...]]]...
            Creates the WireGuard interface \\fINAME\\fR (default rosenpass0) with the private key, the address
            and one route per allowed-ips entry; Rosenpass listens on \\fIIP:PORT\\fR and WireGuard on the next
            port (PORT + 1), and a peer's \\fBendpoint\\fR names its Rosenpass port, WireGuard's being one
            above. Then runs the key exchange with every peer until SIGINT or SIGTERM, and removes the
            interface. \\fBdev\\fR, \\fBip\\fR and \\fBlisten\\fR come before the first \\fBpeer\\fR; a peer's
            options last until the next \\fBpeer\\fR. Needs CAP_NET_ADMIN.
            .TP
            \\fBexchange-config\\fR \\fICONFIG_FILE\\fR
            The same, configured by a TOML file with the keys \\fBverbose\\fR (required, true or false),
            \\fBprivate_keys_dir\\fR (required), \\fBdev\\fR, \\fBip\\fR, \\fBlisten\\fR (one "IP:PORT"), and
            \\fBpeers\\fR (required), an array of tables with \\fBpublic_keys_dir\\fR (required),
            \\fBendpoint\\fR, \\fBpersistent_keepalive\\fR, \\fBallowed_ips\\fR and \\fBprotocol_version\\fR
            ("V02", the default, or "V03"). Unknown keys are refused, naming the line.
            .TP
            \\fBhelp\\fR, \\fB\\-\\-help\\fR, \\fB\\-h\\fR
            Prints every command.
            .TP
            \\fB\\-\\-version\\fR
            Prints the version.
            .SH EXAMPLE
            .nf
            rp genkey ./alice.private
            rp pubkey ./alice.private ./alice.public
            rp exchange ./alice.private dev rp0 ip 10.42.0.1/24 listen 192.0.2.1:9999 \\e
                peer ./bob.public endpoint 192.0.2.2:9999 allowed-ips 10.42.0.2/32
            .fi
            .SH ENVIRONMENT
            .TP
            .B RUST_LOG
            The log level: error, warn, info, debug or trace (the reference's variable).
            .SH EXIT STATUS
            0 on success (for exchange, when a signal ended it); 1 for any error, a mistake on the command
            line included, as the reference's rp. Errors go to stderr, a usage mistake with its usage line.
            .SH SEE ALSO
            rosenpass(1), wg(8), ip(8)

            """
        return page
    }
}

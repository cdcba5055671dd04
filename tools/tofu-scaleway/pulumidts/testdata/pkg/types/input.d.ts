import * as pulumi from "@pulumi/pulumi";
export declare namespace instance {
    interface ServerRootVolume {
        /**
         * Size of the root volume in gigabytes.
         */
        sizeInGb?: pulumi.Input<number | undefined>;
        volumeId?: pulumi.Input<string | undefined>;
    }
    interface ServerPrivateNetwork {
        pnId: pulumi.Input<string>;
        status?: pulumi.Input<string | undefined>;
    }
    interface ServerPublicIp {
        address?: pulumi.Input<string | undefined>;
    }
}
export declare namespace loadbalancers {
    interface BackendHealthCheckTcp {
    }
}

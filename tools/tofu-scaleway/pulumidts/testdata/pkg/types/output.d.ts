import * as outputs from "../types/output";
export declare namespace instance {
    interface ServerRootVolume {
        sizeInGb: number;
        volumeId: string;
    }
    interface ServerPrivateNetwork {
        pnId: string;
        status: string;
    }
    interface ServerPublicIp {
        address: string;
        family: string;
    }
}
export declare namespace loadbalancers {
    interface BackendHealthCheckTcp {
    }
}

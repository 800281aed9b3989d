/**
 * Per-load-balancer counters, named as the CloudWatch metrics of Classic ELB. Plain numeric fields
 * bumped on the hot path: counting costs an increment, and nothing is exported until someone
 * asks for a `snapshot()`.
 */
export interface LoadBalancerMetricsSnapshot {
  readonly RequestCount: number;
  readonly HTTPCode_ELB_5XX: number;
  readonly HTTPCode_Backend_2XX: number;
  readonly HTTPCode_Backend_3XX: number;
  readonly HTTPCode_Backend_4XX: number;
  readonly HTTPCode_Backend_5XX: number;
  readonly BackendConnectionErrors: number;
}

export class LoadBalancerMetrics {
  requestCount = 0;
  elb5xx = 0;
  backend2xx = 0;
  backend3xx = 0;
  backend4xx = 0;
  backend5xx = 0;
  backendConnectionErrors = 0;

  /** Counts a status code returned by a back end (1xx is not counted, as in ELB). */
  backendStatus(status: number): void {
    if (status >= 500) this.backend5xx++;
    else if (status >= 400) this.backend4xx++;
    else if (status >= 300) this.backend3xx++;
    else if (status >= 200) this.backend2xx++;
  }

  snapshot(): LoadBalancerMetricsSnapshot {
    return {
      RequestCount: this.requestCount,
      HTTPCode_ELB_5XX: this.elb5xx,
      HTTPCode_Backend_2XX: this.backend2xx,
      HTTPCode_Backend_3XX: this.backend3xx,
      HTTPCode_Backend_4XX: this.backend4xx,
      HTTPCode_Backend_5XX: this.backend5xx,
      BackendConnectionErrors: this.backendConnectionErrors,
    };
  }
}

/** The counters of every load balancer this process serves, by load-balancer name. */
export class ProxyMetrics {
  readonly #byLoadBalancer = new Map<string, LoadBalancerMetrics>();

  forLoadBalancer(name: string): LoadBalancerMetrics {
    let m = this.#byLoadBalancer.get(name);
    if (m === undefined) {
      m = new LoadBalancerMetrics();
      this.#byLoadBalancer.set(name, m);
    }
    return m;
  }

  /** Forgets a load balancer that left this node. */
  remove(name: string): void {
    this.#byLoadBalancer.delete(name);
  }

  snapshot(): Record<string, LoadBalancerMetricsSnapshot> {
    const out: Record<string, LoadBalancerMetricsSnapshot> = {};
    for (const [name, m] of this.#byLoadBalancer) out[name] = m.snapshot();
    return out;
  }
}

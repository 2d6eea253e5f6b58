import 'reflect-metadata';
import { currentLane, enablePropagation } from '@graylane/core';
import { LaneModule } from '@graylane/nestjs';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

enablePropagation(); // outbound fetch / undici / node:http / axios calls carry x-mse-tag

@Controller()
class CheckoutController {
  @Get('checkout')
  async checkout() {
    const stock = await fetch(`${process.env.INVENTORY_URL}/stock`); // sent with this request's lane
    return { lane: currentLane() ?? 'base', stock: await stock.json() };
  }
}

@Module({ imports: [LaneModule.forRoot()], controllers: [CheckoutController] })
class AppModule {}

async function bootstrap() {
  const app = await NestFactory.create(AppModule); // or NestFactory.create(AppModule, new FastifyAdapter())
  await app.listen(Number(process.env.PORT ?? 8080));
}
bootstrap();
